#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "replication/change_event.h"
#include "replication/postgres/relation_cache.h"

namespace sluice::replication::postgres {

// A committed transaction as the decoder assembled it. `end_lsn` is the end of the commit
// record: confirming it to the server makes a restarted stream begin after this transaction.
struct DecodedTransaction {
  Transaction transaction;
  std::uint64_t end_lsn = 0;
};

// Turns pgoutput messages (protocol version 1, text tuple format) into committed transactions.
// Pure: no I/O, so it can be tested on bytes built by hand.
//
// Understands Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate and
// Message. Row values follow the column's type (see value_kind); NULL is ValueKind::null and an
// unchanged TOAST value ('u') is ValueKind::unchanged. Keys come from the relation's replica
// identity columns: an update without an old tuple kept its key; an old tuple 'K' carries the
// key before a key change; an old tuple 'O' (REPLICA IDENTITY FULL) is the full before image.
// A truncate yields one Operation::truncate event per truncated relation. Logical decoding
// messages (pg_logical_emit_message) and origins carry no row change and are skipped.
class PgOutputDecoder {
 public:
  // Feeds one message (the payload of one XLogData). Returns the transaction when `message` is
  // its Commit. Throws StreamError on a malformed or unexpected message.
  std::optional<DecodedTransaction> feed(std::string_view message);

  // True between a Begin and its Commit.
  bool in_transaction() const { return open_.has_value(); }

  // Forgets a transaction in progress, for when the connection dropped in the middle of it:
  // the server sends it again, whole, after a reconnect.
  void reset_transaction() { open_.reset(); }

 private:
  struct OpenTransaction {
    std::uint64_t final_lsn = 0;
    Transaction transaction;
  };

  void require_transaction(char kind) const;

  RelationCache relations_;
  std::optional<OpenTransaction> open_;
};

// Decodes PostgreSQL's hex bytea text ("\x0aff") into raw bytes; throws StreamError otherwise.
std::string decode_bytea_hex(std::string_view text);

// Microseconds since 2000-01-01 00:00 UTC (the server's epoch) as a time point. Throws
// StreamError for a time more than 250 years away, which the clock cannot hold.
std::chrono::system_clock::time_point from_postgres_time(std::int64_t microseconds);

}  // namespace sluice::replication::postgres

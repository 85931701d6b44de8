#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "replication/change_stream.h"
#include "replication/postgres/pg_session.h"
#include "replication/postgres/pgoutput_decoder.h"

namespace sluice::replication::postgres {

struct StreamOptions {
  std::string slot;         // full slot name (ReplicationSlot::name())
  std::string publication;  // full publication name (Publication::name())
  // A Position::lsn the caller confirmed in an earlier run: transactions committed at or before
  // it are not delivered again. 0 (for a new slot, or to trust the slot) starts at the slot's
  // confirmed_flush_lsn. Not the slot's consistent point: a transaction may commit exactly
  // there, after the snapshot, and must be delivered.
  std::uint64_t start_lsn = 0;
  // How long to keep trying to reconnect after the connection dropped before giving up.
  std::chrono::milliseconds reconnect_timeout{std::chrono::seconds(60)};
  // How often to send a standby status update even when nothing new was confirmed, so the
  // server does not time the stream out (wal_sender_timeout, 60 s by default).
  std::chrono::milliseconds status_interval{std::chrono::seconds(10)};
  // The least memory (kB) the walsender may use to decode one transaction before it spills the
  // transaction to disk (its session's logical_decoding_work_mem, raised to this when the
  // server's is lower); 0 keeps the server's setting.
  std::uint64_t decoding_memory_kb = 0;
};

// The statement that raises the replication session's logical_decoding_work_mem to at least
// `kb` kB, keeping a higher setting of the server's, the role's or the connection's.
std::string raise_decoding_memory_sql(std::uint64_t kb);

// The ChangeStream of a PostgreSQL logical replication slot read with pgoutput (protocol
// version 1) over a `replication=database` connection.
//
// The slot advances only to what the caller confirm()s: standby status updates report the end
// of the last confirmed transaction as flushed, so after a reconnect (dropped connection,
// server restart) the server resends every transaction past it. Transactions it resends that
// were already delivered (commit LSN at or below the last delivered one) are skipped, so each
// committed transaction is delivered once. While the stream is between transactions, the
// server's keepalives are reported as empty transactions positioned just before the server's
// WAL position (every transaction committed before it has been delivered); confirming them
// lets the slot release WAL written for other tables.
//
// A transaction is held in memory until its Commit arrives, so a huge source transaction costs
// memory in proportion to its size.
//
// Not thread-safe: one thread calls next() and confirm().
class PgOutputStream : public ChangeStream {
 public:
  // Connects and starts streaming; throws StreamError when the server refuses (no such slot,
  // slot invalidated, no REPLICATION privilege). A session cut off after it connected is
  // reconnected by next(), within StreamOptions::reconnect_timeout.
  PgOutputStream(ConnectionParams params, StreamOptions options);
  ~PgOutputStream() override;

  std::optional<Transaction> next(std::chrono::milliseconds timeout) override;
  void confirm(const Position& position) override;

  // Whether the replication connection is currently up (false while reconnecting).
  bool connected() const { return session_ != nullptr; }

 private:
  using Clock = std::chrono::steady_clock;

  // Connects and starts streaming at flush_lsn_. Returns false (with last_error_ set) for
  // failures that a later attempt may not see: any while reconnecting, and a session lost or a
  // slot still held by a lost session's walsender after the first connect.
  bool start(bool reconnecting);
  void lose_connection(const std::string& why);
  bool try_reconnect(Clock::time_point deadline);
  std::optional<Transaction> handle(std::string_view copy_data);
  void send_status();
  bool wait_readable(Clock::time_point until);

  ConnectionParams params_;
  StreamOptions options_;
  PgOutputDecoder decoder_;
  std::unique_ptr<Session> session_;

  std::uint64_t last_delivered_commit_ = 0;  // commit LSN of the last transaction returned
  std::uint64_t last_progress_ = 0;          // last keepalive position reported
  std::uint64_t flush_lsn_ = 0;              // what status updates report as flushed
  std::uint64_t reported_flush_ = 0;         // the flush position this connection last sent
  std::uint64_t received_lsn_ = 0;           // the server's latest WAL position seen
  // (commit LSN, end LSN) of transactions returned but not yet confirmed, oldest first.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> unconfirmed_;

  Clock::time_point last_status_{};
  std::optional<Clock::time_point> disconnected_since_;
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{100};
  std::string last_error_;
};

}  // namespace sluice::replication::postgres

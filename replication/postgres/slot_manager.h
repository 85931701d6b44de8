#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddl/identifier.h"
#include "replication/postgres/pg_session.h"

namespace sluice::replication::postgres {

// sluice's server-side objects are all named "sluice_<name>" so that they can be found (and
// removed) after a crash. `name` is the caller's name for the stream (usually the migration's):
// 1 to 56 characters from [a-z0-9_], because slot names allow nothing else. Throws StreamError
// otherwise.
std::string sluice_object_name(std::string_view name);

// A logical replication slot as pg_replication_slots reports it.
struct SlotStatus {
  std::string name;
  std::string database;
  bool active = false;
  bool temporary = false;
  std::string wal_status;             // reserved, extended, unreserved or lost
  std::uint64_t confirmed_flush = 0;  // 0 when the slot never confirmed anything
  std::uint64_t retained_bytes = 0;   // WAL the server keeps for this slot
};

// A publication of exactly `tables` for INSERT, UPDATE, DELETE and TRUNCATE, named
// sluice_object_name(name); dropped on destruction unless released.
//
// Before creating it, every table is checked: it must exist, be a table, and have a replica
// identity (a primary key, REPLICA IDENTITY USING INDEX or FULL). A table without one would make
// the application's own UPDATEs and DELETEs fail once it is published, so it is refused with a
// StreamError instead. Creating a publication needs ownership of the tables.
class Publication {
 public:
  Publication(const ConnectionParams& params, std::string_view name,
              const std::vector<ddl::QualifiedName>& tables);
  ~Publication();
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;

  const std::string& name() const { return name_; }

  // Keeps the publication on the server after destruction (a migration that will resume).
  void release() { owned_ = false; }

 private:
  ConnectionParams params_;
  std::string name_;
  bool owned_ = true;
};

// A logical replication slot with the pgoutput plugin, named sluice_object_name(name); dropped
// on destruction unless released (dropping waits until no stream reads it any more, so destroy
// the stream first).
//
// With `export_snapshot`, the slot's exported snapshot stays usable by other sessions (`SET
// TRANSACTION SNAPSHOT`) until release_snapshot() or destruction: it lives only as long as the
// replication session that created the slot stays idle. Every change committed after that
// snapshot is in the slot, every change before it is in the snapshot: no gap, no overlap.
// Creation waits for running write transactions to end.
class ReplicationSlot {
 public:
  ReplicationSlot(const ConnectionParams& params, std::string_view name, bool export_snapshot);
  ~ReplicationSlot();
  ReplicationSlot(const ReplicationSlot&) = delete;
  ReplicationSlot& operator=(const ReplicationSlot&) = delete;

  const std::string& name() const { return name_; }
  // The LSN from which the slot decodes: the first change after the snapshot.
  std::uint64_t consistent_point() const { return consistent_point_; }
  // The exported snapshot's name, when one was asked for and not yet released.
  const std::optional<std::string>& snapshot_name() const { return snapshot_name_; }

  void release_snapshot();
  void release() { owned_ = false; }

 private:
  ConnectionParams params_;
  std::string name_;
  std::uint64_t consistent_point_ = 0;
  std::optional<std::string> snapshot_name_;
  std::unique_ptr<Session> snapshot_session_;
  bool owned_ = true;
};

// sluice's slots on the server (every database), with the WAL each one retains. Logs a warning
// for each slot that retains more than `warn_bytes`, because a forgotten slot keeps WAL until
// the disk fills up.
std::vector<SlotStatus> list_sluice_slots(const ConnectionParams& params,
                                          std::uint64_t warn_bytes = 1ull << 30);

// The names of sluice's publications in the connected database.
std::vector<std::string> list_sluice_publications(const ConnectionParams& params);

// Drops a slot by its full name, waiting until no stream reads it. Throws StreamError when it
// does not exist or belongs to another database.
void drop_slot(const ConnectionParams& params, const std::string& slot_name);

// Drops a publication by its full name, if it exists.
void drop_publication(const ConnectionParams& params, const std::string& publication_name);

// Parses "16/B374D848" into an LSN; throws StreamError for anything else.
std::uint64_t parse_lsn(std::string_view text);

// Formats an LSN as the server does ("16/B374D848").
std::string format_lsn(std::uint64_t lsn);

}  // namespace sluice::replication::postgres

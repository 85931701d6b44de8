#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "replication/change_event.h"
#include "replication/postgres/slot_manager.h"
#include "src/dsn.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// The heap pages one chunk copies: enough for `rows` rows at `rows_per_page`, at least one, at
// most `pages_left` and kMaxChunkPages. Each chunk is one transaction the change stream's
// walsender decodes whole; kMaxChunkPages keeps its rows (a quarter of the walsender's decoding
// memory in heap pages, which leaves room for the decoder's own overhead per row) from spilling
// to disk however fast the server copies.
inline constexpr std::uint64_t kMaxChunkPages = 8192;
std::uint64_t chunk_pages(std::uint64_t rows, double rows_per_page, std::uint64_t pages_left);

// The copy of a PostgreSQL rebuild (the engine's SnapshotCopy, docs/architecture.md §2): the
// run's publication and logical slot, sluice_<slot_name(oid)>, created with an exported
// snapshot, and the table copied into the shadow under that snapshot in ranges of pages (TID
// range scans), so that a chunk's size follows the rows it holds, never the values of the key.
// Every change committed after the snapshot is in the slot, every row committed before it is
// in the copy: no gap, no overlap, and nothing to apply while the copy runs.
//
// The replication session that exports the snapshot keeps it only while it runs no other
// command, and holds the slot meanwhile. So a session of sluice's own (the holder) imports it
// at once in a read-only transaction and exports it again for the chunks; the replication
// session then ends, and the change stream reads the slot while the copy runs, so that the
// server decodes the copy's WAL alongside the copy instead of after it. The holder's snapshot
// holds back the server's xmin horizon (vacuum keeps dead rows of every table) until the copy
// ends.
class PgSnapshotCopy {
 public:
  // `plan` outlives this object; its shadow is described before take_snapshot().
  PgSnapshotCopy(const Dsn& dsn, const std::optional<std::string>& password,
                 const PgTablePlan& plan);

  // Drops a publication and slot of the run's name left by an earlier attempt, creates them
  // with an exported snapshot, hands the snapshot to the holder and reads the table's size in
  // pages under it. On return the slot and publication are left to the change stream, which
  // may read them at once (open it before copying: the stream drops them when it goes). Returns the
  // position the stream starts at (lsn 0: the slot's own start, so that a transaction
  // committing exactly at the slot's consistent point is read too). Throws ConnectionLost when
  // `session` is lost (then redo it), SnapshotLost when the snapshot is gone at once,
  // Error(ExitCode::preflight_failed) when the server refuses the publication or the slot.
  replication::Position take_snapshot(Connection& session);

  // Copies the next range of pages, of about `rows` rows by the rows per page seen so far, in
  // one transaction on `session` that imports the snapshot; returns the rows it copied, or
  // nullopt once every page the table had at the snapshot is copied. Safe to redo on a new
  // session after a lost one: the redo skips rows the lost attempt committed. Throws
  // SnapshotLost when the snapshot is gone, Error(ExitCode::stream) when the table was
  // truncated or rewritten since the snapshot (its page ranges no longer hold).
  std::optional<std::uint64_t> copy_chunk(Connection& session, std::uint64_t rows);

  // Ends the snapshot (the holder's session).
  void release_snapshot();

  // Drops the slot and publication of the run's name (this copy's or a killed run's), waiting
  // for a walsender that still holds the slot. The caller makes the shadow again.
  void discard(Connection& session);

 private:
  // Makes the transaction open on `session` read the snapshot; throws SnapshotLost when it is
  // gone.
  void import_snapshot(Connection& session);
  // Opens the holder, exports the slot's snapshot again from it and ends the replication
  // session that exported it, waiting on `session` until the slot is free for the stream.
  void hold_snapshot(Connection& session);
  void drop_server_objects(Connection& session);

  replication::postgres::ConnectionParams params_;
  Dsn dsn_;
  std::optional<std::string> password_;
  const PgTablePlan& plan_;
  std::string name_;  // the slot's and publication's, with sluice_ in front
  // Declared in this order so that the slot is dropped before its publication.
  std::unique_ptr<replication::postgres::Publication> publication_;
  std::unique_ptr<replication::postgres::ReplicationSlot> slot_;
  std::unique_ptr<Connection> holder_;  // its open transaction keeps the snapshot alive
  std::string snapshot_;                // the holder's export, which the chunks import
  std::string file_node_;               // the table's, at the snapshot
  std::uint64_t pages_ = 0;      // the table's pages at the snapshot: no row it sees lies past
  std::uint64_t next_page_ = 0;  // the first page not copied yet
  std::uint64_t rows_copied_ = 0;
  double rows_per_page_ = 0;  // seen so far (at first, the statistics')
  bool redo_ = false;  // the last attempt at this chunk did not finish: it may have committed
};

}  // namespace sluice::postgres

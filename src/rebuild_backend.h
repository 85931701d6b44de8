#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ddl/alter_analysis.h"
#include "replication/change_stream.h"
#include "src/change_applier.h"
#include "src/checkpoint.h"
#include "src/copier.h"
#include "src/dsn.h"
#include "src/error.h"
#include "src/lock_retry.h"
#include "src/reconnect.h"
#include "src/table_schema.h"
#include "src/verifier.h"

namespace sluice {

// What the user asked `sluice alter` to do.
struct RebuildOptions {
  std::string table;           // as typed: name or schema.name
  std::string alter;           // the ALTER TABLE specification
  bool force_rebuild = false;  // copy even when the server could apply the change in place
  // An ALTER that adds a UNIQUE key keeps one row per duplicate value and discards the others
  // (counted and reported); without this such an ALTER is refused.
  bool discard_duplicates = false;
  bool drop_old_table = false;  // drop the old table after a successful cut-over
  // MySQL/MariaDB: the shadow's plain secondary indexes are dropped for the copy and built after
  // it in one sorted pass (RebuildBackend::complete_shadow); false keeps them maintained row by
  // row, so that no replica applies one long index build (--maintain-indexes-during-copy).
  bool hold_back_indexes = true;
  // How the old table (and on PostgreSQL its indexes and identity sequences) is renamed at the
  // swap: "_old", "_old2", … (old_suffix()). Empty: plan() picks the first whose names are all
  // free, so a table can be migrated again while earlier runs' old tables are kept. A recorded
  // run keeps its pick, so that a resume finds the names it swapped to.
  std::string old_suffix;
  // Continue a killed run: its shadow table must exist and is adopted, not created.
  bool resume = false;
  // A revert (sluice revert): the shadow is the old table an earlier run kept under this name
  // (in the table's schema), adopted under the shadow's name (adopt_old_table) and mapped by
  // the columns both tables have; given its name back when the run fails before its swap.
  std::string reverting_old_table;
  // How long after the cut-over `sluice revert` may undo the run (--revert-window).
  std::chrono::seconds revert_window{86400};
  // --revertible: keep what a revert reads after the cut-over even where that costs the server
  // (PostgreSQL: a reverse replication slot, which retains WAL until the window ends).
  bool revertible = false;
  // --allow-lossy-revert: with revertible, cut over even when a revert would lose data.
  bool allow_lossy_revert = false;
  std::chrono::milliseconds chunk_time{500};
  std::chrono::milliseconds cutover_lock_timeout{2000};
  int cutover_attempts = 5;
  // How long verification and the cut-over may keep writes blocked while they drain the
  // stream: past it the lock is released and the attempt counts as failed (WriteBlockTooLong).
  std::chrono::milliseconds max_write_block{1000};
  // How a lost session (the copier's, the applier's, the change stream's) is got back.
  ReconnectPolicy reconnect;
};

// Everything decided before anything is created: printed by a dry run, followed by --execute.
struct RebuildPlan {
  ddl::Dialect dialect = ddl::Dialect::mysql;  // how names are quoted when the plan is printed
  TableSchema source;
  ddl::QualifiedName shadow;  // MySQL: <table>_sluice_new
  ddl::QualifiedName old;     // _<table><old_suffix>: where the old table is kept after the swap
  std::string old_suffix;     // RebuildOptions::old_suffix, as picked
  ddl::AlterAnalysis analysis;
  std::string alter;
  std::vector<std::size_t> mapped_columns;  // source columns copied, by index, in table order
  // The server's statistics, not an exact COUNT(*): counting a busy table holds a read view
  // for minutes, which stalls purge and slows the application.
  std::uint64_t estimated_rows = 0;
  bool try_instant = false;             // ask the server to apply the change in place first
  std::vector<std::string> shadow_ddl;  // the statements that create the shadow table
};

struct CutOverResult {
  int attempts = 0;
  std::chrono::milliseconds write_block{0};  // from taking the write lock to the swap's end
  // Where the change log holds the first write to the new table after the swap, and nothing of
  // the old table's after it: where `sluice revert` starts (docs/alter.md, "Revert"). Unset
  // when it could not be read (the swap stands; the run is then not revertible).
  std::optional<replication::Position> revert_from;
  // PostgreSQL: the reverse slot that holds the writes from revert_from on (pg_revert.h).
  std::string reverse_slot;
};

// Moves the change log to (at least) a position, applying everything read on the way.
using DrainTo = std::function<void(const replication::Position&)>;

// A drain under a write block (the DrainTo handed to open_verify_snapshots and cut_over) ran
// past RebuildOptions::max_write_block. Backends let it pass like any failure of the attempt,
// releasing their locks with the original table untouched; the engine catches up with the
// stream outside the lock and tries again (docs/architecture.md §3, rule 13).
class WriteBlockTooLong : public Error {
 public:
  explicit WriteBlockTooLong(const std::string& message) : Error(ExitCode::failure, message) {}
};

// The snapshot a SnapshotCopy reads is gone (the session that held it was lost): the copy
// cannot be finished and starts over (SnapshotCopy::discard_copy).
class SnapshotLost : public Error {
 public:
  explicit SnapshotLost(const std::string& message) : Error(ExitCode::failure, message) {}
};

// The copy of a backend whose change stream can start exactly at a snapshot of the table
// (PostgreSQL: the snapshot a logical slot exports as it is created). The whole table is copied
// under that snapshot in chunks of rows, nothing is applied meanwhile, and the stream then
// carries every change committed after it: no key is ever ordered or held back in the client
// (docs/architecture.md §3).
class SnapshotCopy {
 public:
  virtual ~SnapshotCopy() = default;

  // Creates the change stream's server objects with a snapshot taken exactly at their start and
  // returns the position open_stream() reads from to miss no change committed after it. The
  // stream may be opened at once and read while the copy runs (the engine queues what it
  // reads; nothing is applied before the copy ends); it owns the server objects from then on.
  virtual replication::Position take_snapshot() = 0;
  // Copies the next chunk of about `rows` rows under the snapshot; returns how many rows it
  // copied, or nullopt once the whole table is copied. Throws SnapshotLost.
  virtual std::optional<std::uint64_t> copy_chunk(std::uint64_t rows) = 0;
  // Ends the snapshot once the copy is done and readies the shadow for the applier (PostgreSQL
  // builds the key's and the unique indexes the copy went without).
  virtual void release_snapshot() = 0;
  // Forgets a copy that cannot be finished (its snapshot is gone, or its run was killed):
  // makes the shadow table again, empty, in one transaction (a killed run's shadow may lack
  // indexes it held back for after the copy, which only the shadow's creation knows), and
  // drops the change stream's server objects, so that take_snapshot() starts afresh.
  virtual void discard_copy() = 0;
};

// How a backend's copy meets its change stream: key ranges copied while the applier drains
// the stream between chunks (MySQL, CopySource), or one snapshot the stream starts at
// (PostgreSQL, SnapshotCopy).
using CopyPath = std::variant<CopySource*, SnapshotCopy*>;

// One server family's SQL for an online table rebuild. The Migrator drives it; it never sees
// SQL. Copying comes through copy_path(), applying through the ChangeApplier it makes.
class RebuildBackend {
 public:
  virtual ~RebuildBackend() = default;

  // The copy's way; the object lives as long as the backend.
  virtual CopyPath copy_path() = 0;

  // The table `table` (as the user typed it) names, resolved against the connection's database
  // or search path; throws Error(ExitCode::usage) for a malformed name. Reads nothing else.
  virtual ddl::QualifiedName resolve_table(const std::string& table) = 0;

  // Runs the preflight and analyses the change; creates nothing. Throws Error when the table or
  // the change cannot be migrated online (the message names the fix).
  virtual const RebuildPlan& plan(const RebuildOptions& options) = 0;

  // Asks the server to apply the change without copying, with a bounded lock wait. Returns
  // false (and changes nothing) when the server cannot.
  virtual bool apply_in_place(const RebuildOptions& options) = 0;

  // Creates the shadow table and checks the planned column mapping against it.
  virtual void create_shadow() = 0;
  // Called once every row is copied, before the changes committed since are applied: builds what
  // create_shadow() held back to make the copy faster. Changes committed meanwhile wait in the
  // change log. Throws Error(ExitCode::connection) when the server stays out of reach.
  virtual void complete_shadow() = 0;
  // For a resumed run, before plan(): settles a cut-over the killed run was in the middle of.
  // When the tables had been swapped (the shadow is gone, the old table holds the swap's name),
  // gives the old table its kept name (`old_suffix`, the run's RebuildPlan::old_suffix) and
  // returns true: the migration is done. When they had not, drops the run's sentry so the
  // cut-over can be tried again, and returns false.
  virtual bool complete_interrupted_swap(const std::string& table,
                                         const std::string& old_suffix) = 0;

  // Adopts the shadow table a killed run created (RebuildOptions::resume) and checks it against
  // the plan. Throws Error(ExitCode::preflight_failed), changing nothing, when it does not match.
  virtual void attach_shadow() = 0;
  // Drops the shadow table if it exists (a failed or aborted run).
  virtual void drop_shadow() = 0;

  // Opens new sessions for the copy and the applier after a lost connection. Throws
  // Error(ExitCode::connection) while the server cannot be reached. The copy, the applier and
  // log_position() call it themselves (with back-off, see RebuildOptions::reconnect), redoing
  // the interrupted chunk or batch, which is safe to redo.
  virtual void reconnect() = 0;

  // The current end of the change log; a stream started here misses nothing written later.
  // MySQL: every transaction logged up to it is visible to reads that start afterwards.
  virtual replication::Position log_position() = 0;
  virtual std::unique_ptr<replication::ChangeStream> open_stream(
      const replication::Position& start) = 0;
  // The applier that carries the stream into the shadow table (after plan()): PostgreSQL
  // writes row images, MySQL re-reads changed keys (docs/architecture.md §3).
  virtual std::unique_ptr<ChangeApplier> make_applier() = 0;

  // Blocks writes briefly (a TableLock with the cut-over's bounded wait and retries), drains the
  // stream to that point through `drain_to`, opens one consistent snapshot of both tables and
  // releases writes. The engine compares the snapshots (verify_chunks).
  virtual std::unique_ptr<VerifySnapshots> open_verify_snapshots(const DrainTo& drain_to) = 0;

  // Replaces the shadow's rows in a range that failed verification by the table's current rows,
  // in one transaction. Changes committed meanwhile still reach the shadow through the stream.
  virtual void recopy(const Mismatch& range) = 0;

  // Swaps the shadow in for the table atomically, the old table kept as plan().old. Retries a
  // lock it cannot get within the timeout with back-off; throws Error when every attempt fails,
  // leaving the original table untouched.
  virtual CutOverResult cut_over(const RebuildOptions& options, const DrainTo& drain_to) = 0;

  // Drops the old table a successful cut_over kept as plan().old.
  virtual void drop_old_table() = 0;

  // Drops what a crashed run on `table` left behind (shadow table, cut-over sentry), never the
  // table itself or an old table kept after a successful swap. Returns the dropped names.
  virtual std::vector<std::string> cleanup(const std::string& table) = 0;

  // Revert (docs/alter.md, "Revert"): `table` and `old_table` (the name in the table's schema an
  // earlier run kept its old table under). Throws Error(ExitCode::preflight_failed) on a server
  // where sluice cannot revert yet.
  //
  // What reverting would lose, one sentence each; empty when the revert is lossless.
  virtual std::vector<std::string> revert_losses(const std::string& table,
                                                 const std::string& old_table) = 0;
  // What reverting this run after its swap would lose, as revert_losses says it, comparing the
  // shadow (with every index built) with the table: the check --revertible makes before the swap.
  virtual std::vector<std::string> swap_revert_losses() = 0;
  // Whether the change log still holds everything a switched run's `revert_point` (its
  // checkpoint) needs.
  virtual bool log_retained(const Checkpoint& revert_point) = 0;
  // Gives the old table the shadow's name, so that a revert adopts it (nothing when it has it
  // already). Throws Error(ExitCode::preflight_failed) when neither table exists, or both do.
  virtual void adopt_old_table(const std::string& table, const std::string& old_table) = 0;
  // Gives an adopted old table its name back; false when there is none to give it back to.
  virtual bool restore_old_table(const std::string& table, const std::string& old_table) = 0;
  // Releases what keeps a switched run revertible at a cost to the server (its window ended, its
  // old table is dropped, a later run replaced its table), given its `revert_point`. PostgreSQL
  // drops the reverse slot; MySQL's binlog needs nothing. Returns whether anything was released.
  virtual bool end_revertibility(const Checkpoint& /*revert_point*/) { return false; }
};

// The suffix of the old-table names of the `generation`th kept old table: "_old" for the first,
// "_old2", "_old3", … after it (docs/alter.md "Old tables").
std::string old_suffix(int generation);
// How many old tables of one table plan() looks past for free names before it refuses.
constexpr int kMaxOldTables = 99;

// The suffix a run of `options` uses: its recorded one, "_old" for a resumed run recorded before
// suffixes were (it could only have used that), or the first generation for which `taken` is
// false. Throws Error(ExitCode::preflight_failed), naming `table`, when all kMaxOldTables are.
std::string pick_old_suffix(const RebuildOptions& options, const std::string& table,
                            const std::function<bool(const std::string& suffix)>& taken);

// How the cut-over and verification wait for their table locks: RebuildOptions'
// cutover_lock_timeout per attempt, cutover_attempts attempts.
LockRetryPolicy cut_over_lock_policy(const RebuildOptions& options);

// The ALTER given with --alter, analysed for `dialect`; Error(ExitCode::usage) when it is
// malformed or unsupported.
ddl::AlterAnalysis analyze_alter_option(ddl::Dialect dialect, const std::string& alter);

}  // namespace sluice

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "src/checkpoint.h"
#include "src/migration_control.h"
#include "src/rebuild_backend.h"
#include "src/run_recorder.h"
#include "src/schema_guard.h"
#include "src/stream_reader.h"

namespace sluice {

// The run lost its server for longer than RebuildOptions::reconnect allows. Unlike other
// failures it leaves the shadow table, the change stream's server objects and the checkpoint in
// place, so that `sluice alter --resume` continues it once the server is back (or `sluice
// cleanup` removes them). The original table is untouched.
class RunSuspended : public Error {
 public:
  explicit RunSuspended(const std::string& message) : Error(ExitCode::connection, message) {}
};

// What a finished `sluice alter --execute` did.
struct RebuildSummary {
  bool applied_in_place = false;
  std::uint64_t rows_copied = 0;
  std::uint64_t changes_applied = 0;
  std::uint64_t rows_verified = 0;
  std::uint64_t rows_discarded = 0;  // duplicates of a new UNIQUE key (--discard-duplicates)
  CutOverResult cut_over;
  bool old_table_dropped = false;
  std::chrono::milliseconds duration{0};
};

// Drives one online rebuild through its steps (docs/architecture.md §2): shadow table, then the
// backend's copy path: a change stream started before a chunked key-range copy, with the applier
// draining the stream between chunks (CopySource), or a chunked copy under the snapshot the
// change stream starts at, the stream read only afterwards (SnapshotCopy); mandatory
// verification, cut-over. Any failure before the swap drops the shadow table and leaves the
// original table untouched.
class Migrator {
 public:
  // `stop` is polled between steps; when it turns true the run aborts with ExitCode::interrupted.
  // `options` must outlive the Migrator.
  Migrator(RebuildBackend& backend, const RebuildOptions& options, const std::atomic<bool>& stop);

  // Tells `listener` (not owned; may be null) each phase the run enters, and stops the run when
  // it gives a reason.
  void set_listener(PhaseListener* listener) { listener_ = listener; }
  // Who steers the run (throttling, postponed cut-over, panic, progress output); without one
  // the run is never paused and reports nothing.
  void set_control(MigrationControl& control) { control_ = &control; }

  // Runs the migration `plan` describes: the backend's plan() for the same options, which every
  // caller makes first so that each refusal comes before anything is written.
  RebuildSummary execute(const RebuildPlan& plan);
  // Continues a killed run from its checkpoint (options.resume must be set): adopts the shadow
  // table, copies on after the watermark and reads the change log from the checkpoint's position.
  // A SnapshotCopy's run killed before its copy was complete copies again from a new snapshot.
  RebuildSummary resume(const Checkpoint& checkpoint);

 private:
  // Runs the migration from `from`; without one, first copies under the snapshot of the
  // backend's SnapshotCopy.
  RebuildSummary rebuild(const RebuildPlan& plan, std::optional<Checkpoint> from);
  std::unique_ptr<replication::ChangeStream> open_stream(const Checkpoint& from);
  // Enters the copy's phases and reports the estimate.
  void start_copy(const RebuildPlan& plan);
  // Copies the whole table under the change stream's snapshot while `reader` (opened here on
  // `change_stream`) reads the stream, so that the server decodes the copy's WAL alongside it;
  // starts over with a new snapshot (and stream) when one is lost; returns where the stream
  // starts.
  replication::Position copy_under_snapshot(
      std::unique_ptr<replication::ChangeStream>& change_stream,
      std::unique_ptr<StreamReader>& reader);
  replication::Position copy_snapshot_once(
      SnapshotCopy& copy, std::unique_ptr<replication::ChangeStream>& change_stream,
      std::unique_ptr<StreamReader>& reader);
  void copy_and_apply(StreamReader& stream, ChangeApplier& applier);
  // Hands the listener a checkpoint, at most every few seconds unless `now`; moves
  // confirmable_ along.
  void save_checkpoint(bool now);
  // The two ways the stream is drained to a position: `free` while writes go on (it gives up
  // only when the stream stalls), `blocked` while verification or the cut-over blocks writes.
  struct Drains {
    DrainTo free;
    DrainTo blocked;
  };
  void drain_to(StreamReader& stream, ChangeApplier& applier, const replication::Position& target);
  // drain_to under a write block: flushes every kBlockedDrainStep changes and throws
  // WriteBlockTooLong once it has run longer than options_.max_write_block, so the block lasts
  // at most that plus one step.
  void drain_blocked(StreamReader& stream, ChangeApplier& applier,
                     const replication::Position& target);
  // A drain's end: flushes, saves a checkpoint and confirms the stream.
  void finish_drain(StreamReader& stream, ChangeApplier& applier,
                    const replication::Position& target);
  // Runs `attempt` (verification's or the cut-over's write block) until it ends without
  // WriteBlockTooLong, catching up through `drain` after each that did, at most
  // options_.cutover_attempts times; then throws Error(ExitCode::failure).
  void within_write_block(const std::string& what, const DrainTo& drain,
                          const std::function<void()>& attempt);
  // Drains to `target` the changes a SnapshotCopy's stream kept while the copy ran.
  void apply_backlog(StreamReader& stream, ChangeApplier& applier,
                     const replication::Position& target);
  // Hands the transactions the reader has to the applier (see StreamReader::take for
  // `most_changes`), waiting up to `wait` for one.
  void take(StreamReader& reader, ChangeApplier& applier, std::chrono::milliseconds wait,
            std::size_t most_changes = std::numeric_limits<std::size_t>::max());
  // Drains the stream in passes until a pass no longer gets shorter: afterwards a drain under a
  // write block has only the last moments of writes to apply.
  void catch_up(const DrainTo& drain);
  // Catches up, opens the backend's snapshots and compares them.
  VerifyResult compare(const Drains& drains);
  // When a revert fails, keeps its stream's server objects: they are the reverse slot it read.
  void keep_revert_stream(replication::ChangeStream* stream) const;
  // Verifies (re-copying differing ranges); redone from the start when a session is lost.
  void verify(const Drains& drains);
  void verify_once(const Drains& drains);
  // --revertible without --allow-lossy-revert: throws Error(ExitCode::preflight_failed) before
  // verification when reverting the run would lose data (docs/alter.md, "Revert").
  void refuse_lossy_revert();
  // Throws Error when a revert's verification found differences (docs/architecture.md §3.2).
  void refuse_inexact_revert(const VerifyResult& result) const;
  // The backend's cut-over; when a session is lost, settles what the interrupted attempt did
  // (the swap may have happened) and tries again.
  CutOverResult cut_over(const Drains& drains);
  void run_to_cut_over(StreamReader& stream);
  void drop_old_table();
  // Saves the cut-over's revert_from as the switched run's checkpoint (sluice revert).
  void save_revert_point();
  void enter(Phase phase);
  // What the control calls while it holds the run: reads the stream (within the held-changes
  // limit), writes to the shadow table when `flush`, refreshes status_, checks for a stop.
  std::function<void(bool flush)> keep_up_with(StreamReader& stream, ChangeApplier& applier);
  void update_status(const ChangeApplier& applier);
  void report_progress(const ChangeApplier& applier);
  void check_stop() const;

  // Past this many changes held for the copy (or waiting in memory for a flush), the run stops
  // taking from the stream: its bounded queue then pauses the reader and the server keeps the log.
  static constexpr std::size_t kMaxHeldChanges = 200'000;

  RebuildBackend& backend_;
  const RebuildOptions& options_;
  std::string old_suffix_;  // the run's RebuildPlan::old_suffix (a resumed run's recorded one)
  const std::atomic<bool>& stop_;
  PhaseListener* listener_ = nullptr;
  MigrationControl* control_;
  MigrationStatus status_;
  std::uint64_t total_rows_ = 0;
  std::unique_ptr<SchemaGuard> schema_guard_;  // set once the plan's columns are known
  replication::Position read_position_;
  std::optional<replication::Row> watermark_;  // the copy's: every key up to it is copied
  bool copied_ = false;                        // a SnapshotCopy has copied every row
  std::chrono::steady_clock::time_point last_checkpoint_;
  // How far the change log may be confirmed: the position of the last saved checkpoint.
  replication::Position confirmable_;
  std::chrono::milliseconds stream_lag_{0};  // now minus the commit time of the last change read
  std::uint64_t applied_so_far_ = 0;         // the applier's count at the end of the last drain
  std::chrono::steady_clock::time_point started_;
  RebuildSummary summary_;
};

}  // namespace sluice

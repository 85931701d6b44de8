#include "src/migrator.h"

#include <spdlog/spdlog.h>

#include "replication/stream_error.h"
#include "src/error.h"
#include "src/stream_errors.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint64_t kVerifyChunkRows = 50000;
// More differing ranges than this point at a systematic fault (a conversion the checksum and
// the copy disagree on), which copying again cannot fix.
constexpr std::size_t kMaxRecopiedRanges = 100;

// Drops the shadow table (gives a revert's adopted old table its name back) when a run ends
// before the swap, however it ends.
class ShadowGuard {
 public:
  ShadowGuard(RebuildBackend& backend, bool reverting) : backend_(backend), reverting_(reverting) {}
  ~ShadowGuard() {
    if (!armed_) {
      return;
    }
    try {
      backend_.drop_shadow();
      spdlog::info("{}; the original table is untouched",
                   reverting_ ? "the old table the revert adopted has its name back"
                              : "dropped the shadow table");
    } catch (const std::exception& error) {
      spdlog::error("could not drop the shadow table ({}); run sluice cleanup", error.what());
    }
  }
  ShadowGuard(const ShadowGuard&) = delete;
  ShadowGuard& operator=(const ShadowGuard&) = delete;
  void release() { armed_ = false; }

 private:
  RebuildBackend& backend_;
  bool reverting_;
  bool armed_ = true;
};

}  // namespace

Migrator::Migrator(RebuildBackend& backend, const RebuildOptions& options,
                   const std::atomic<bool>& stop)
    : backend_(backend), options_(options), stop_(stop), control_(&passive_control()) {}

void Migrator::check_stop() const {
  if (stop_.load()) {
    throw Error(ExitCode::interrupted, "interrupted; the original table is untouched");
  }
  if (listener_) {
    if (std::optional<std::string> reason = listener_->stop_reason()) {
      throw Error(ExitCode::failure, *reason + "; stopped, the original table is untouched");
    }
  }
  if (std::optional<std::string> reason = control_->abort_reason()) {
    throw Error(ExitCode::aborted, "aborted (" + *reason +
                                       "); the shadow table is dropped and the original table "
                                       "is untouched");
  }
}

void Migrator::enter(Phase phase) {
  if (listener_) {
    listener_->entered(phase);
  }
}

RebuildSummary Migrator::execute(const RebuildPlan& plan) {
  started_ = Clock::now();
  old_suffix_ = plan.old_suffix;
  if (plan.try_instant && !options_.force_rebuild && backend_.apply_in_place(options_)) {
    summary_.applied_in_place = true;
    enter(Phase::switched);
    enter(Phase::contracted);  // no old table was kept: nothing is left to contract
    summary_.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
    return summary_;
  }
  if (std::holds_alternative<SnapshotCopy*>(backend_.copy_path())) {
    backend_.create_shadow();
    return rebuild(plan, std::nullopt);
  }
  const replication::Position start = backend_.log_position();
  backend_.create_shadow();
  return rebuild(plan, Checkpoint{std::nullopt, start});
}

RebuildSummary Migrator::resume(const Checkpoint& checkpoint) {
  started_ = Clock::now();
  old_suffix_ = options_.old_suffix.empty() ? old_suffix(1) : options_.old_suffix;
  if (backend_.complete_interrupted_swap(options_.table, old_suffix_)) {
    enter(Phase::switched);
    summary_.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
    return summary_;
  }
  const RebuildPlan& plan = backend_.plan(options_);
  backend_.attach_shadow();
  if (checkpoint.copied) {
    spdlog::info("resuming after the copy: the change stream at {}",
                 to_string(checkpoint.position));
    return rebuild(plan, checkpoint);
  }
  const CopyPath path = backend_.copy_path();
  if (SnapshotCopy* const* copy = std::get_if<SnapshotCopy*>(&path)) {
    // The rows copied so far came from a snapshot that ended with the killed run: no other
    // snapshot matches the changes the slot kept for them.
    spdlog::warn(
        "resuming: the killed run stopped during its copy, which starts over: the shadow "
        "table is made again and the copy reads a new snapshot");
    (*copy)->discard_copy();
    return rebuild(plan, std::nullopt);
  }
  spdlog::info("resuming: the copy goes on after key {}, the change stream at {}",
               checkpoint.watermark ? replication::format_value(checkpoint.watermark->front())
                                    : std::string("(none yet)"),
               to_string(checkpoint.position));
  return rebuild(plan, checkpoint);
}

void Migrator::keep_revert_stream(replication::ChangeStream* stream) const {
  // A revert's stream is the reverse slot of the run it undoes (PostgreSQL): it stays, so that
  // sluice revert can be run again; the old table gets its name back (the guard).
  if (stream != nullptr && !options_.reverting_old_table.empty()) {
    stream->keep_server_objects();
  }
}

RebuildSummary Migrator::rebuild(const RebuildPlan& plan, std::optional<Checkpoint> from) {
  status_.table = options_.table;
  ShadowGuard guard(backend_, !options_.reverting_old_table.empty());
  std::unique_ptr<replication::ChangeStream> change_stream;
  // Declared after the stream it reads, so that it stops first.
  std::unique_ptr<StreamReader> reader;
  if (from) {
    change_stream = open_stream(*from);
  }
  try {
    start_copy(plan);
    if (!from) {
      from = Checkpoint{std::nullopt, copy_under_snapshot(change_stream, reader), true};
      save_checkpoint(true);
    }
    if (!reader) {
      reader = std::make_unique<StreamReader>(*change_stream);
    }
    run_to_cut_over(*reader);
  } catch (const Error& error) {
    if (!is_connection_error(error)) {
      keep_revert_stream(change_stream.get());
      throw;
    }
    // The server is out of reach: dropping the shadow table is impossible anyway, and keeping
    // it with the slot and the checkpoint lets a resumed run go on where this one stopped.
    guard.release();
    if (change_stream) {
      change_stream->keep_server_objects();
    }
    throw RunSuspended(error.what());
  } catch (...) {
    keep_revert_stream(change_stream.get());
    throw;
  }
  guard.release();
  enter(Phase::switched);
  save_revert_point();
  if (options_.drop_old_table) {
    drop_old_table();
  }
  summary_.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
  return summary_;
}

std::unique_ptr<replication::ChangeStream> Migrator::open_stream(const Checkpoint& from) {
  std::unique_ptr<replication::ChangeStream> stream = backend_.open_stream(from.position);
  read_position_ = from.position;
  confirmable_ = from.position;
  watermark_ = from.watermark;
  copied_ = from.copied;
  spdlog::info("change stream started at {}", to_string(from.position));
  return stream;
}

void Migrator::start_copy(const RebuildPlan& plan) {
  enter(Phase::expanding);
  total_rows_ = plan.estimated_rows;
  status_.rows_estimated = total_rows_;
  control_->event(MigrationEvent::rowcount_complete, status_);
  if (copied_) {
    spdlog::info("every row is in the shadow table already; applying the changes since {}",
                 to_string(read_position_));
  } else if (const std::optional<std::uint64_t> pinned = control_->chunk_rows()) {
    spdlog::info("copying about {} rows (the server's estimate) in chunks of {} rows", total_rows_,
                 *pinned);
  } else {
    spdlog::info("copying about {} rows (the server's estimate) in chunks of about {} ms",
                 total_rows_, options_.chunk_time.count());
  }

  std::vector<std::string> planned;
  for (const ColumnInfo& column : plan.source.columns) {
    planned.push_back(column.name);
  }
  schema_guard_ = std::make_unique<SchemaGuard>(std::move(planned));
  enter(Phase::backfilling);
  control_->event(MigrationEvent::begin_copy, status_);
}

replication::Position Migrator::copy_under_snapshot(
    std::unique_ptr<replication::ChangeStream>& change_stream,
    std::unique_ptr<StreamReader>& reader) {
  SnapshotCopy& copy = *std::get<SnapshotCopy*>(backend_.copy_path());
  status_.step = RunStep::copy;
  for (;;) {
    try {
      return copy_snapshot_once(copy, change_stream, reader);
    } catch (const SnapshotLost& lost) {
      spdlog::warn(
          "{}; the copy starts over: the shadow table is made again and the copy reads a "
          "new snapshot",
          lost.what());
      reader.reset();
      change_stream.reset();
      copy.discard_copy();
    }
  }
}

replication::Position Migrator::copy_snapshot_once(
    SnapshotCopy& copy, std::unique_ptr<replication::ChangeStream>& change_stream,
    std::unique_ptr<StreamReader>& reader) {
  const replication::Position start = copy.take_snapshot();
  if (listener_) {
    // A run killed from here on has a record to resume, which copies again (resume()).
    listener_->checkpoint(Checkpoint{std::nullopt, start, false});
  }
  change_stream = open_stream(Checkpoint{std::nullopt, start, true});
  reader = std::make_unique<StreamReader>(*change_stream);
  ChunkSizer sizer(1000, options_.chunk_time);
  std::uint64_t copied = 0;
  const std::function<void(bool)> keep_up = [this](bool) {
    status_.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
    check_stop();
  };
  for (;;) {
    control_->wait_while_throttled(status_, keep_up);
    sizer.pin(control_->chunk_rows());
    status_.chunk_rows = sizer.rows();
    const auto chunk_started = Clock::now();
    const std::optional<std::uint64_t> rows = copy.copy_chunk(sizer.rows());
    if (!rows) {
      break;
    }
    sizer.record(*rows, Clock::now() - chunk_started);
    copied += *rows;
    status_.rows_copied = copied;
    keep_up(false);
    control_->status(status_);
  }
  copy.release_snapshot();
  summary_.rows_copied = copied;
  spdlog::info("copied {} rows under the change stream's snapshot", copied);
  return start;
}

void Migrator::run_to_cut_over(StreamReader& stream) {
  const std::unique_ptr<ChangeApplier> made = backend_.make_applier();
  ChangeApplier& applier = *made;
  if (copied_) {
    // Every row is in the shadow: each change applies at once, whatever its key.
    applier.finish_copy();
    apply_backlog(stream, applier, backend_.log_position());
  } else {
    if (watermark_) {
      applier.advance_watermark(*watermark_);
    }
    copy_and_apply(stream, applier);
  }
  const Drains drains{
      [&](const replication::Position& target) { drain_to(stream, applier, target); },
      [&](const replication::Position& target) { drain_blocked(stream, applier, target); }};
  check_stop();
  refuse_lossy_revert();
  status_.step = RunStep::verify;
  report_progress(applier);
  verify(drains);
  check_stop();
  // Held here, the shadow table keeps up with the stream exactly as during the catch-up passes.
  control_->wait_for_cut_over(status_, keep_up_with(stream, applier));
  check_stop();
  status_.step = RunStep::cut_over;
  report_progress(applier);
  // Catch up with what was written during verification before taking the write lock, so the
  // drain under the lock covers milliseconds of changes, not the seconds verification took.
  catch_up(drains.free);
  summary_.cut_over = cut_over(drains);
  summary_.changes_applied = applier.applied();
}

CutOverResult Migrator::cut_over(const Drains& drains) {
  CutOverResult result;
  within_write_block("the cut-over", drains.free, [&] {
    bool attempted = false;
    result = retry_on_connection_loss(
        "the cut-over", options_.reconnect, [this] { backend_.reconnect(); },
        [&] {
          if (attempted && backend_.complete_interrupted_swap(options_.table, old_suffix_)) {
            return CutOverResult{};
          }
          attempted = true;
          return backend_.cut_over(options_, drains.blocked);
        });
  });
  return result;
}

void Migrator::save_revert_point() {
  const std::optional<replication::Position>& from = summary_.cut_over.revert_from;
  if (!listener_ || !from || options_.drop_old_table) {
    return;
  }
  // A switched run's checkpoint is where its revert reads the change log from: every row is in
  // the old table, every change before the position applied there.
  const Checkpoint point{std::nullopt, *from, true, true, summary_.cut_over.reverse_slot};
  try {
    listener_->checkpoint(point);
    spdlog::info(
        "writes to the new table start at {} in the change log; sluice revert can undo "
        "the migration from there",
        to_string(*from));
  } catch (const std::exception& error) {
    spdlog::warn(
        "could not record where the change log stands after the swap ({}); the "
        "migration cannot be reverted",
        error.what());
    // Unrecorded, a reverse slot would retain WAL with nothing left to drop it.
    try {
      backend_.end_revertibility(point);
    } catch (const std::exception& release) {
      spdlog::warn(
          "could not drop the reverse replication slot {} ({}); drop it with sluice "
          "slots --drop",
          point.reverse_slot, release.what());
    }
  }
}

void Migrator::drop_old_table() {
  // The migration has succeeded by now; a failed drop only leaves the old table behind.
  try {
    backend_.drop_old_table();
    summary_.old_table_dropped = true;
    spdlog::info("dropped the old table (--drop-old-table)");
    enter(Phase::contracted);
  } catch (const std::exception& error) {
    spdlog::warn(
        "the migration succeeded, but dropping the old table failed ({}); drop it "
        "yourself",
        error.what());
  }
}

void Migrator::copy_and_apply(StreamReader& stream, ChangeApplier& applier) {
  Copier copier(*std::get<CopySource*>(backend_.copy_path()), ChunkSizer(1000, options_.chunk_time),
                watermark_);
  status_.step = RunStep::copy;
  const std::function<void(bool)> keep_up = keep_up_with(stream, applier);
  for (;;) {
    control_->wait_while_throttled(status_, keep_up);
    copier.pin_chunk_rows(control_->chunk_rows());
    status_.chunk_rows = copier.chunk_rows();
    if (!copier.copy_next_chunk()) {
      break;
    }
    watermark_ = copier.watermark();
    applier.advance_watermark(*watermark_);
    // Held changes wait for the copy to reach their keys. Past the limit, stop taking from the
    // stream: its bounded queue then pauses the reader and the server keeps the log, while each
    // chunk releases held changes. Memory stays flat however hot the uncopied keys are.
    if (applier.held() < kMaxHeldChanges) {
      take(stream, applier, milliseconds(0));
    }
    applier.flush();
    save_checkpoint(false);
    status_.rows_copied = copier.rows_copied();
    report_progress(applier);
    check_stop();
  }
  applier.finish_copy();
  summary_.rows_copied = copier.rows_copied();
  status_.rows_copied = copier.rows_copied();
  report_progress(applier);
  backend_.complete_shadow();
  apply_backlog(stream, applier, backend_.log_position());
}

void Migrator::verify(const Drains& drains) {
  retry_on_connection_loss(
      "verification", options_.reconnect, [this] { backend_.reconnect(); },
      [&] { verify_once(drains); });
}

void Migrator::refuse_lossy_revert() {
  // Checked up front too (sluice alter), but only the built shadow shows every unique key the
  // change drops, and a resumed run is checked again here.
  if (!options_.revertible || options_.allow_lossy_revert ||
      !options_.reverting_old_table.empty()) {
    return;
  }
  const std::vector<std::string> losses = backend_.swap_revert_losses();
  if (losses.empty()) {
    return;
  }
  std::string text;
  for (const std::string& loss : losses) {
    text += (text.empty() ? "" : "; ") + loss;
  }
  throw Error(ExitCode::preflight_failed,
              "--revertible: reverting this change would lose data (" + text +
                  "); sluice will not cut over and the table is untouched; run it again with "
                  "--allow-lossy-revert to accept that, or without --revertible");
}

void Migrator::refuse_inexact_revert(const VerifyResult& result) const {
  // A revert's shadow is the old table: a re-copy would overwrite the rows it kept (and the
  // columns the migration dropped) with the new table's converted back. Rows no write touched
  // since the cut-over differ only when casting back does not undo the migration's conversion.
  if (result.mismatches.empty()) {
    return;
  }
  throw Error(ExitCode::failure,
              "the old table differs from the table converted back in " +
                  std::to_string(result.mismatches.size()) +
                  " key ranges (first: " + result.mismatches.front().description +
                  "): casting each column back does not undo the migration (a USING "
                  "expression, a conversion that rounds, or DDL since the cut-over), so sluice "
                  "will not revert; the table is untouched and the old table has its name back");
}

VerifyResult Migrator::compare(const Drains& drains) {
  // Caught up first, the drain under verification's brief write block is short.
  catch_up(drains.free);
  std::unique_ptr<VerifySnapshots> snapshots;
  within_write_block("verification", drains.free,
                     [&] { snapshots = backend_.open_verify_snapshots(drains.blocked); });
  return verify_chunks(*snapshots, kVerifyChunkRows);
}

void Migrator::verify_once(const Drains& drains) {
  VerifyResult result = compare(drains);
  if (!options_.reverting_old_table.empty()) {
    refuse_inexact_revert(result);
  }
  if (!result.mismatches.empty() && result.mismatches.size() <= kMaxRecopiedRanges) {
    spdlog::warn("verification found {} differing key ranges; re-copying them and checking again",
                 result.mismatches.size());
    for (const Mismatch& mismatch : result.mismatches) {
      spdlog::warn("re-copying {}", mismatch.description);
      backend_.recopy(mismatch);
    }
    result = compare(drains);
  }
  if (!result.mismatches.empty()) {
    std::string report;
    for (const Mismatch& mismatch : result.mismatches) {
      report += "\n  " + mismatch.description;
    }
    throw Error(ExitCode::failure,
                "verification failed: the shadow table differs from the original in " +
                    std::to_string(result.mismatches.size()) +
                    " key ranges, so sluice will not cut over; the original table is untouched" +
                    report);
  }
  summary_.rows_verified = result.rows;
  summary_.rows_discarded = result.discarded;
  if (result.discarded > 0) {
    spdlog::warn(
        "{} rows of the original are not in the shadow table: each duplicates the new "
        "unique key of a row that is (--discard-duplicates)",
        result.discarded);
  }
  spdlog::info("verified {} rows in {} chunks: the shadow table equals the original", result.rows,
               result.chunks);
}

void Migrator::update_status(const ChangeApplier& applier) {
  status_.changes_applied = applier.applied();
  // Read and not yet written: held for the copy (PostgreSQL), or waiting for the next flush
  // while the run is paused (both; MySQL holds nothing for the copy).
  status_.changes_held = applier.held() + applier.pending();
  status_.stream_lag = std::max(milliseconds(0), stream_lag_);
  status_.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
}

void Migrator::report_progress(const ChangeApplier& applier) {
  update_status(applier);
  control_->status(status_);
}

}  // namespace sluice

#include "src/migrator.h"

#include <spdlog/spdlog.h>

#include "replication/stream_error.h"
#include "src/error.h"
#include "src/stream_errors.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// `count` things done in `took`, per second (all of them when it took no measurable time).
std::uint64_t per_second(std::uint64_t count, milliseconds took) {
  return took.count() > 0 ? count * 1000 / static_cast<std::uint64_t>(took.count()) : count;
}

constexpr milliseconds kDrainTimeout{60000};
// Row changes written per flush while writes are blocked: one resync batch (MySQL), so the
// deadline is looked at least that often.
constexpr std::size_t kBlockedDrainStep = 500;
// How long the stream may bring nothing while the changes of a copy are applied (see
// Migrator::apply_backlog).
constexpr milliseconds kBacklogStall{600000};
constexpr std::size_t kMaxHeldChanges = 200'000;
constexpr int kCatchUpPasses = 20;
constexpr milliseconds kCaughtUp{100};
constexpr std::uint64_t kVerifyChunkRows = 50000;
constexpr milliseconds kCheckpointInterval{2000};
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
      throw;
    }
    // The server is out of reach: dropping the shadow table is impossible anyway, and keeping
    // it with the slot and the checkpoint lets a resumed run go on where this one stopped.
    guard.release();
    if (change_stream) {
      change_stream->keep_server_objects();
    }
    throw RunSuspended(error.what());
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

void Migrator::within_write_block(const std::string& what, const DrainTo& drain,
                                  const std::function<void()>& attempt) {
  for (int attempts = 1;; ++attempts) {
    try {
      attempt();
      return;
    } catch (const WriteBlockTooLong& error) {
      if (attempts >= options_.cutover_attempts) {
        throw Error(ExitCode::failure,
                    what + " released its write lock " + std::to_string(attempts) +
                        " times because draining the changes written meanwhile took longer than "
                        "--max-write-block (" +
                        std::to_string(options_.max_write_block.count()) +
                        " ms): the table is written faster than sluice applies its changes; the "
                        "original table is untouched; run sluice alter again at a quieter time or "
                        "raise --max-write-block");
      }
      spdlog::warn("{} released its write lock ({}); catching up before attempt {} of {}", what,
                   error.what(), attempts + 1, options_.cutover_attempts);
      catch_up(drain);
    }
  }
}

void Migrator::save_revert_point() {
  const std::optional<replication::Position>& from = summary_.cut_over.revert_from;
  if (!listener_ || !from || options_.drop_old_table) {
    return;
  }
  // A switched run's checkpoint is where its revert reads the change log from: every row is in
  // the old table, every change before the position applied there.
  try {
    listener_->checkpoint(Checkpoint{std::nullopt, *from, true, true});
    spdlog::info(
        "writes to the new table start at {} in the change log; sluice revert can undo "
        "the migration from there",
        to_string(*from));
  } catch (const std::exception& error) {
    spdlog::warn(
        "could not record where the change log stands after the swap ({}); the "
        "migration cannot be reverted",
        error.what());
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

void Migrator::take(StreamReader& reader, ChangeApplier& applier, milliseconds wait,
                    std::size_t most_changes) {
  std::vector<replication::Transaction> transactions;
  try {
    transactions = reader.take(wait, most_changes);
  } catch (const replication::StreamError& error) {
    throw_stream_failure(error, "the change stream stopped (the original table is untouched): ");
  }
  for (const replication::Transaction& transaction : transactions) {
    schema_guard_->check(transaction);
    applier.add(transaction);
    read_position_ = transaction.commit_position;
    if (!transaction.changes.empty()) {
      // Commit times have one-second resolution in the binlog, so lag is rounded to seconds.
      stream_lag_ = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now() -
                                                             transaction.commit_time);
    }
  }
}

std::function<void(bool)> Migrator::keep_up_with(StreamReader& stream, ChangeApplier& applier) {
  return [this, &stream, &applier](bool flush) {
    if (applier.in_memory() < kMaxHeldChanges) {
      take(stream, applier, milliseconds(0));
    }
    if (flush) {
      applier.flush();
      save_checkpoint(false);
      stream.confirm(confirmable_);
    }
    update_status(applier);
    check_stop();
  };
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

void Migrator::apply_backlog(StreamReader& stream, ChangeApplier& applier,
                             const replication::Position& target) {
  // Everything committed while the copy ran: minutes of changes after a long copy, so no
  // deadline while the stream moves, and a flush and checkpoint after each read of the reader's
  // bounded queue keep memory flat. The server also decodes the copy's own writes to the shadow
  // (filtered out, so nothing arrives meanwhile): a long silence is not yet a stall.
  const auto started = Clock::now();
  const std::uint64_t applied_before = applier.applied();
  const Clock::duration flushed_before = applier.flush_time();
  auto moved = Clock::now();
  while (compare_positions(read_position_, target) < 0) {
    const replication::Position before = read_position_;
    take(stream, applier, milliseconds(20));
    if (compare_positions(before, read_position_) != 0) {
      moved = Clock::now();
    } else if (Clock::now() - moved > kBacklogStall) {
      throw Error(ExitCode::stream, "the change stream stopped at " + to_string(read_position_) +
                                        " for 10 minutes before reaching " + to_string(target) +
                                        "; the server may be overloaded");
    }
    applier.flush();
    save_checkpoint(false);
    stream.confirm(confirmable_);
    report_progress(applier);
    check_stop();
  }
  drain_to(stream, applier, target);
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  const std::uint64_t applied = applier.applied() - applied_before;
  const auto writing =
      std::chrono::duration_cast<milliseconds>(applier.flush_time() - flushed_before);
  spdlog::info(
      "applied the {} changes committed during the copy in {} ms ({} changes/s); writing them "
      "took {} ms ({} changes/s), the rest was waiting for the stream",
      applied, took.count(), per_second(applied, took), writing.count(),
      per_second(applied, writing));
}

void Migrator::drain_to(StreamReader& stream, ChangeApplier& applier,
                        const replication::Position& target) {
  const auto deadline = Clock::now() + kDrainTimeout;
  while (compare_positions(read_position_, target) < 0) {
    if (Clock::now() > deadline) {
      throw Error(ExitCode::stream, "the change stream did not reach " + to_string(target) +
                                        " within 60 s (it is at " + to_string(read_position_) +
                                        "); the server may be overloaded");
    }
    check_stop();
    take(stream, applier, milliseconds(20));
  }
  finish_drain(stream, applier, target);
}

void Migrator::drain_blocked(StreamReader& stream, ChangeApplier& applier,
                             const replication::Position& target) {
  const auto started = Clock::now();
  const std::uint64_t applied_before = applier.applied();
  while (compare_positions(read_position_, target) < 0) {
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    if (took > options_.max_write_block) {
      throw WriteBlockTooLong("in " + std::to_string(took.count()) + " ms it applied " +
                              std::to_string(applier.applied() - applied_before) +
                              " changes and the stream reached " + to_string(read_position_) +
                              " of " + to_string(target) + ", past --max-write-block (" +
                              std::to_string(options_.max_write_block.count()) + " ms)");
    }
    check_stop();
    take(stream, applier, milliseconds(20), kBlockedDrainStep);
    applier.flush();
  }
  finish_drain(stream, applier, target);
}

void Migrator::finish_drain(StreamReader& stream, ChangeApplier& applier,
                            const replication::Position& target) {
  applier.flush();
  applied_so_far_ = applier.applied();
  spdlog::debug("drained to {} (target {}); {} changes applied so far", to_string(read_position_),
                to_string(target), applied_so_far_);
  save_checkpoint(true);
  stream.confirm(confirmable_);
}

void Migrator::save_checkpoint(bool now) {
  // Called right after a flush: every change read so far whose key is up to the watermark is
  // in the shadow table; held changes are for keys the copy has yet to read.
  if (!listener_) {
    confirmable_ = read_position_;
    return;
  }
  if (!now && Clock::now() - last_checkpoint_ < kCheckpointInterval) {
    return;
  }
  listener_->checkpoint(Checkpoint{watermark_, read_position_, copied_});
  last_checkpoint_ = Clock::now();
  // The change log may forget what lies before a saved checkpoint, never more.
  confirmable_ = read_position_;
}

void Migrator::catch_up(const DrainTo& drain) {
  // Each pass carries what was written during the one before. Stop once a pass is short, or
  // carries no less than nine tenths of the changes of the one before: under steady load the
  // passes settle where the applier keeps pace with the writers, and more passes gain nothing;
  // an applier only a little faster still shrinks them pass by pass, and each pass it gets
  // shortens the write block that follows. Changes, not durations: a pass also waits for the
  // server to decode its log, which does not shrink with the backlog.
  std::uint64_t previous = 0;
  for (int pass = 0; pass < kCatchUpPasses; ++pass) {
    const std::uint64_t before = applied_so_far_;
    const auto started = Clock::now();
    drain(backend_.log_position());
    const Clock::duration took = Clock::now() - started;
    const std::uint64_t changes = applied_so_far_ - before;
    if (took < kCaughtUp || (pass > 0 && changes * 10 >= previous * 9)) {
      return;
    }
    previous = changes;
  }
}

void Migrator::verify(const Drains& drains) {
  retry_on_connection_loss(
      "verification", options_.reconnect, [this] { backend_.reconnect(); },
      [&] { verify_once(drains); });
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

#include <spdlog/spdlog.h>

#include "replication/stream_error.h"
#include "src/error.h"
#include "src/migrator.h"
#include "src/stream_errors.h"

// The Migrator's side of the change stream: taking from it, draining it to a position (freely,
// or under a write block with its bound), the catch-up passes and the checkpoints
// (docs/architecture.md §3, rules 5 and 13).

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kDrainTimeout{60000};
// Row changes written per flush while writes are blocked: one resync batch (MySQL), so the
// deadline is looked at least that often.
constexpr std::size_t kBlockedDrainStep = 500;
// How long the stream may bring nothing while the changes of a copy are applied (see
// Migrator::apply_backlog).
constexpr milliseconds kBacklogStall{600000};
constexpr int kCatchUpPasses = 20;
constexpr milliseconds kCaughtUp{100};
constexpr milliseconds kCheckpointInterval{2000};

// `count` things done in `took`, per second (all of them when it took no measurable time).
std::uint64_t per_second(std::uint64_t count, milliseconds took) {
  return took.count() > 0 ? count * 1000 / static_cast<std::uint64_t>(took.count()) : count;
}

}  // namespace

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

}  // namespace sluice

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "src/migration_control.h"
#include "src/rebuild_backend.h"
#include "src/stream_reader.h"

namespace sluice {

// What a finished `sluice alter --execute` did.
struct RebuildSummary {
  bool applied_in_place = false;
  std::uint64_t rows_copied = 0;
  std::uint64_t changes_applied = 0;
  std::uint64_t rows_verified = 0;
  CutOverResult cut_over;
  std::chrono::milliseconds duration{0};
};

// Drives one online rebuild through its steps (DESIGN.md §3): shadow table, change stream
// started before the copy, chunked copy with the applier draining the stream between chunks,
// mandatory verification, cut-over. Any failure before the swap drops the shadow table and
// leaves the original table untouched.
class Migrator {
 public:
  // `stop` is polled between steps; when it turns true the run aborts with ExitCode::interrupted.
  Migrator(RebuildBackend& backend, const RebuildOptions& options, const std::atomic<bool>& stop);

  // Who steers the run (throttling, postponed cut-over, panic, progress output); without one
  // the run is never paused and reports nothing.
  void set_control(MigrationControl& control) { control_ = &control; }

  RebuildSummary execute();

 private:
  void copy_and_apply(StreamReader& stream, Applier& applier);
  void drain_to(StreamReader& stream, Applier& applier, const replication::Position& target);
  // Hands every transaction the reader has to the applier, waiting up to `wait` for one.
  void take(StreamReader& reader, Applier& applier, std::chrono::milliseconds wait);
  void verify(const DrainTo& drain);
  // What the control calls while it holds the run: reads the stream (within the held-changes
  // limit), writes to the shadow table when `flush`, refreshes status_, checks for a stop.
  std::function<void(bool flush)> keep_up_with(StreamReader& stream, Applier& applier);
  void update_status(const Applier& applier);
  void report_progress(const Applier& applier);
  void check_stop() const;

  RebuildBackend& backend_;
  RebuildOptions options_;
  const std::atomic<bool>& stop_;
  MigrationControl* control_;
  MigrationStatus status_;
  std::uint64_t total_rows_ = 0;
  replication::Position read_position_;
  std::chrono::milliseconds stream_lag_{0};  // now minus the commit time of the last change read
  std::chrono::steady_clock::time_point started_;
  RebuildSummary summary_;
};

}  // namespace sluice

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace sluice {

// The step a run is at, as the Migrator reports it after every chunk and while it waits (the
// recorded phase of a migration is Phase, src/phase_store.h).
enum class RunStep { starting, copy, verify, waiting, cut_over, done, aborted, failed };

// The word users and scripts see for a step (the "phase" of progress output and SLUICE_PHASE):
// "copy", "waiting", …
const char* step_name(RunStep step);

// One snapshot of a running migration, cheap to copy: progress output, the control socket's
// `status` and the hooks' environment are all rendered from it.
struct MigrationStatus {
  RunStep step = RunStep::starting;
  std::string table;
  std::uint64_t rows_copied = 0;
  std::uint64_t rows_estimated = 0;
  std::uint64_t changes_applied = 0;
  std::uint64_t changes_held = 0;
  std::uint64_t chunk_rows = 0;
  std::chrono::milliseconds stream_lag{0};
  std::chrono::milliseconds elapsed{0};
  // Why the copy is paused or the cut-over held; empty while neither.
  std::string throttle_reason;
  std::string postpone_reason;
};

// Events a migration announces once each (hooks are named after them).
enum class MigrationEvent { rowcount_complete, begin_copy };

// What a running migration asks of whoever steers it (files, the control socket, load probes,
// hooks, progress output). The Migrator calls it between steps, on its own thread; an
// implementation answers from state other threads keep current, so every call is quick except
// the waits, which keep the change stream flowing through `keep_up`.
class MigrationControl {
 public:
  virtual ~MigrationControl() = default;

  virtual void event(MigrationEvent event, const MigrationStatus& status) = 0;
  // Called often (after every chunk, while waiting); the implementation decides what to print.
  virtual void status(const MigrationStatus& status) = 0;

  // Before each chunk: returns once the copy may go on (not throttled, nice-ratio pause over).
  // Calls `keep_up` about every 100 ms meanwhile; `keep_up(false)` reads the change stream
  // without writing to the shadow table (flushing pauses with the copy).
  virtual void wait_while_throttled(MigrationStatus& status,
                                    const std::function<void(bool flush)>& keep_up) = 0;
  // A chunk size the user pinned (socket `chunk-size=N`, --chunk-size), or nullopt for sizing by
  // --chunk-time.
  virtual std::optional<std::uint64_t> chunk_rows() = 0;

  // After verification: returns once the cut-over may start (no postpone flag file, or the
  // socket's `cut-over`; the on-before-cut-over hook succeeded; not throttled).
  virtual void wait_for_cut_over(MigrationStatus& status,
                                 const std::function<void(bool flush)>& keep_up) = 0;

  // Why the migration must stop now (panic flag file, socket `panic`, critical load), or
  // nullopt. Polled next to the interrupt check.
  virtual std::optional<std::string> abort_reason() const = 0;
};

// A control that never pauses, holds or aborts and reports nothing.
MigrationControl& passive_control();

}  // namespace sluice

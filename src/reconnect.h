#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "src/error.h"

namespace sluice {

// The server session behind a statement is gone: it was killed (MySQL KILL, PostgreSQL
// pg_terminate_backend), the server shut down or restarted, or the network dropped it. Whether
// the statement committed is unknown, so only a unit of work that is safe to redo may be retried
// on a new session. A connection that cannot be opened at all is Error(ExitCode::connection) too.
class ConnectionLost : public Error {
 public:
  explicit ConnectionLost(const std::string& message) : Error(ExitCode::connection, message) {}
};

// How long and how often a run tries to get its sessions back after losing them.
struct ReconnectPolicy {
  std::chrono::milliseconds first_pause{100};
  std::chrono::milliseconds longest_pause{5000};
  // Counted from the first loss of a unit of work; then the run gives up.
  std::chrono::milliseconds give_up_after{std::chrono::seconds(60)};
  // The run's stop flag (SIGINT/SIGTERM), or null: a back-off ends as soon as it turns true,
  // so that a run waiting for its server can still be interrupted.
  const std::atomic<bool>* stop = nullptr;
};

// Waits between attempts at one unit of work with exponential back-off and logs one line per
// retry. failed() throws Error(ExitCode::connection) once the policy's time is up.
class ReconnectBackoff {
 public:
  ReconnectBackoff(std::string_view what, const ReconnectPolicy& policy);

  // Called after an attempt lost its connection (or could not open one): logs, waits, and
  // throws when the unit must be given up (Error(ExitCode::connection)) or the policy's stop
  // flag is set before or during the wait (Error(ExitCode::interrupted)).
  void failed(const Error& error);

 private:
  // Sleeps `pause_`, or less when the stop flag turns true; returns whether it did.
  bool wait_or_stop() const;

  std::string what_;
  ReconnectPolicy policy_;
  std::chrono::steady_clock::time_point first_failure_;
  std::chrono::milliseconds pause_;
  int attempts_ = 0;
};

bool is_connection_error(const Error& error);

// Connection trouble over the whole process (one sluice process runs one migration), for its
// metrics: `errors` counts every lost or unopenable connection ReconnectBackoff saw, `retries`
// the attempts it let go ahead after one. Safe to read from any thread.
struct ConnectionTrouble {
  std::uint64_t errors = 0;
  std::uint64_t retries = 0;
};
ConnectionTrouble connection_trouble();

// Runs `unit` (a unit of work that is safe to redo: one chunk copy, one applier batch), and when
// its connection is lost, reconnects through `reconnect` and runs it again, with back-off, until
// it succeeds or `policy` gives up (Error(ExitCode::connection) naming `what`).
template <typename Unit>
auto retry_on_connection_loss(std::string_view what, const ReconnectPolicy& policy,
                              const std::function<void()>& reconnect, Unit unit) {
  ReconnectBackoff backoff(what, policy);
  bool lost = false;
  for (;;) {
    try {
      if (lost) {
        reconnect();
        lost = false;
      }
      return unit();
    } catch (const Error& error) {
      if (!is_connection_error(error)) {
        throw;
      }
      lost = true;
      backoff.failed(error);
    }
  }
}

}  // namespace sluice

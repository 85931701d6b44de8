#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "src/session.h"

namespace sluice {

// How sluice waits for a lock the application holds: each attempt waits at most `timeout` on the
// server, then sluice lets go, pauses (doubling from `first_pause`, at most `longest_pause`) and
// tries again, `attempts` times in all. The application's transactions are never queued behind a
// lock request of sluice's for longer than `timeout`.
struct LockRetryPolicy {
  std::chrono::milliseconds timeout{2000};
  int attempts = 5;
  std::chrono::milliseconds first_pause{200};
  std::chrono::milliseconds longest_pause{5000};
  // When set, the sentence thrown once the attempts are used up, saying what state the tables
  // are in and what to do; otherwise a generic one naming the unit of work.
  std::string gave_up;
};

// Whether another attempt may succeed where this one failed: a lock wait that timed out, or a
// deadlock in which the server chose sluice's statement as the victim (sluice yields).
bool is_lock_conflict(const ServerError& error);

// Counts the attempts of one unit of work and waits between them. Logs one line per retry.
class LockBackoff {
 public:
  LockBackoff(std::string_view what, const LockRetryPolicy& policy);

  // Called after an attempt lost a lock conflict: rethrows `error` with what was tried when the
  // attempts are used up (Error(ExitCode::failure)); else logs and waits.
  void failed(const ServerError& error);

 private:
  std::string what_;
  LockRetryPolicy policy_;
  std::chrono::milliseconds pause_;
  int attempts_ = 0;
};

// Runs `attempt` until it returns without a lock conflict (see is_lock_conflict), with the
// pauses of `policy`; other errors pass through at once. Safe only for a unit of work whose
// failed attempt changed nothing (it ran in a transaction that rolled back, or it is a lock
// request).
template <typename Attempt>
auto retry_lock_waits(std::string_view what, const LockRetryPolicy& policy, Attempt attempt) {
  LockBackoff backoff(what, policy);
  for (;;) {
    try {
      return attempt();
    } catch (const ServerError& error) {
      if (!is_lock_conflict(error)) {
        throw;
      }
      backoff.failed(error);
    }
  }
}

}  // namespace sluice

#include "src/lock_retry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace sluice {

bool is_lock_conflict(const ServerError& error) {
  return error.kind() == ServerErrorKind::lock_timeout || error.kind() == ServerErrorKind::deadlock;
}

LockBackoff::LockBackoff(std::string_view what, const LockRetryPolicy& policy)
    : what_(what), policy_(policy), pause_(policy.first_pause) {}

void LockBackoff::failed(const ServerError& error) {
  ++attempts_;
  const char* conflict =
      error.kind() == ServerErrorKind::deadlock ? "was chosen as a deadlock victim" : "waited";
  if (attempts_ >= policy_.attempts && !policy_.gave_up.empty()) {
    throw Error(ExitCode::failure, policy_.gave_up);
  }
  if (attempts_ >= policy_.attempts) {
    throw Error(ExitCode::failure,
                what_ + " failed " + std::to_string(attempts_) + " times: each attempt " +
                    conflict + " for a lock held by the application (at most " +
                    std::to_string(policy_.timeout.count()) +
                    " ms each) and changed nothing; try again when the application's long "
                    "transactions are done (last error: " +
                    error.what() + ")");
  }
  spdlog::warn("{} {} for a lock held by the application (attempt {} of {}); retrying in {} ms",
               what_, conflict, attempts_, policy_.attempts, pause_.count());
  std::this_thread::sleep_for(pause_);
  pause_ = std::min(pause_ * 2, policy_.longest_pause);
}

}  // namespace sluice

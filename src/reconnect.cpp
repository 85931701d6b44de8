#include "src/reconnect.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace sluice {

using std::chrono::milliseconds;

namespace {

std::atomic<std::uint64_t> connection_errors{0};
std::atomic<std::uint64_t> connection_retries{0};

}  // namespace

ReconnectBackoff::ReconnectBackoff(std::string_view what, const ReconnectPolicy& policy)
    : what_(what), policy_(policy), pause_(policy.first_pause) {}

bool is_connection_error(const Error& error) {
  return error.code() == ExitCode::connection;
}

ConnectionTrouble connection_trouble() {
  return {connection_errors.load(), connection_retries.load()};
}

void ReconnectBackoff::failed(const Error& error) {
  ++connection_errors;
  const auto now = std::chrono::steady_clock::now();
  if (attempts_ == 0) {
    first_failure_ = now;
  }
  ++attempts_;
  const auto lost_for = std::chrono::duration_cast<milliseconds>(now - first_failure_);
  if (lost_for + pause_ > policy_.give_up_after) {
    throw Error(ExitCode::connection, "lost the connection to the server during " + what_ +
                                          " and could not get it back within " +
                                          std::to_string(policy_.give_up_after.count() / 1000) +
                                          " s (" + std::to_string(attempts_) + " attempts" +
                                          "; last error: " + error.what() + ")");
  }
  spdlog::warn("lost the connection during {} ({}); reconnecting in {} ms (attempt {})", what_,
               error.what(), pause_.count(), attempts_);
  if (wait_or_stop()) {
    throw Error(ExitCode::interrupted, "interrupted while reconnecting during " + what_ +
                                           " (last error: " + error.what() + ")");
  }
  pause_ = std::min(pause_ * 2, policy_.longest_pause);
  ++connection_retries;
}

bool ReconnectBackoff::wait_or_stop() const {
  // A signal handler can only set the flag, so the wait polls it in short steps.
  constexpr milliseconds kStep{50};
  const auto until = std::chrono::steady_clock::now() + pause_;
  while (policy_.stop == nullptr || !policy_.stop->load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) {
      return false;
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kStep, until - now));
  }
  return true;
}

}  // namespace sluice

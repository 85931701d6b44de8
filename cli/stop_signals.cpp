#include "cli/stop_signals.h"

#include <csignal>

namespace sluice::cli {
namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void request_stop(int) {
  stop_requested.store(true);
}

}  // namespace

StopSignals::StopSignals()
    : previous_int_(std::signal(SIGINT, request_stop)),
      previous_term_(std::signal(SIGTERM, request_stop)) {
  stop_requested.store(false);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

const std::atomic<bool>& StopSignals::requested() {
  return stop_requested;
}

}  // namespace sluice::cli

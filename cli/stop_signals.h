#pragma once

#include <atomic>

namespace sluice::cli {

// While alive, SIGINT and SIGTERM set a flag instead of killing the process, so a command can
// stop between steps and clean up what it created. Restores the previous handlers on
// destruction.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // True once SIGINT or SIGTERM arrived.
  static const std::atomic<bool>& requested();

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

}  // namespace sluice::cli

#include "src/column_backend.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "src/error.h"

namespace sluice {

void retry_lock_timeouts(const Step& step, std::chrono::milliseconds lock_timeout, int attempts,
                         const std::function<bool()>& attempt) {
  std::chrono::milliseconds pause{500};
  for (int tried = 1;; ++tried) {
    if (attempt()) {
      return;
    }
    if (tried >= attempts) {
      throw Error(ExitCode::failure, "'" + step.sql + "' waited " +
                                         std::to_string(lock_timeout.count()) +
                                         " ms for the table's lock " + std::to_string(tried) +
                                         " times; try again when the application's long "
                                         "transactions are done");
    }
    spdlog::warn("waited {} ms for the table's lock for '{}' (attempt {} of {}); retrying in {} ms",
                 lock_timeout.count(), step.sql, tried, attempts, pause.count());
    std::this_thread::sleep_for(pause);
    pause *= 2;
  }
}

}  // namespace sluice

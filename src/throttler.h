#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "src/load_probe.h"

namespace sluice {

// One limit of --max-load / --critical-load: the metric `name` must stay at or below `limit`.
struct LoadThreshold {
  std::string name;
  double limit = 0;
  bool operator==(const LoadThreshold&) const = default;
};

// Parses "Threads_running=25,Threads_connected=500" (empty text: no limit). Throws
// Error(ExitCode::usage) naming `option` for a malformed list.
std::vector<LoadThreshold> parse_load_thresholds(std::string_view text, std::string_view option);
std::string format_load_thresholds(const std::vector<LoadThreshold>& thresholds);

// The first limit a reading exceeds, as "Threads_running=31 > 25"; nullopt when all hold.
// A metric missing from `values` holds.
std::optional<std::string> exceeded(const std::vector<LoadThreshold>& limits,
                                    const std::map<std::string, double>& values);

// Why replicas throttle: the first one lagging more than `max_lag`, with a problem, or whose
// lag is unknown, as "replica r1 lags 1200 ms > 1000 ms" or "replica r1 is not replicating
// (Slave_SQL_Running: No), 1200 ms behind".
std::optional<std::string> lagging(const std::vector<ReplicaLag>& lags,
                                   std::chrono::milliseconds max_lag);

// --critical-load's rule: abort when the load is over the limit at once (interval 0), or when
// it has stayed over it for the whole interval (a short spike is ridden out).
class CriticalLoadTimer {
 public:
  explicit CriticalLoadTimer(std::chrono::milliseconds interval) : interval_(interval) {}
  // Feeds one reading; true when the migration must abort.
  bool update(bool over, std::chrono::steady_clock::time_point now);

 private:
  std::chrono::milliseconds interval_;
  std::optional<std::chrono::steady_clock::time_point> over_since_;
};

// Everything that can pause, hold or abort a migration, as the user configured it.
struct ThrottleSettings {
  std::string throttle_flag_file;
  std::string postpone_flag_file;
  std::string panic_flag_file;
  std::vector<LoadThreshold> max_load;
  std::vector<LoadThreshold> critical_load;
  std::chrono::milliseconds critical_load_interval{0};
  double nice_ratio = 0;
  std::string throttle_query;
  std::optional<std::chrono::milliseconds> max_lag;

  // True when a LoadProbe is needed (a limit that reads the server).
  bool probes_server() const;
};

// Decides whether the copy is paused, the cut-over held, or the migration aborted. Sentinel
// files are checked on every question (a stat costs microseconds, so a file reacts within one
// chunk); the server is probed once a second on a thread of its own, so a slow probe never
// delays the copy and a copy never delays the probe. The control socket changes its settings
// and requests while it runs.
class Throttler {
 public:
  // `probe` may be null when settings.probes_server() is false.
  Throttler(ThrottleSettings settings, std::unique_ptr<LoadProbe> probe);
  ~Throttler();
  Throttler(const Throttler&) = delete;
  Throttler& operator=(const Throttler&) = delete;

  // Probes the server once (so a misnamed metric fails before anything is created: throws
  // Error(ExitCode::usage)) and starts probing in the background.
  void start();

  std::optional<std::string> throttle_reason() const;
  std::optional<std::string> postpone_reason() const;
  std::optional<std::string> abort_reason() const;

  // Control socket requests.
  void request_throttle(bool on) { requested_throttle_ = on; }
  void request_cut_over() { cut_over_requested_ = true; }
  void request_panic();
  void set_max_load(std::vector<LoadThreshold> limits);
  void set_critical_load(std::vector<LoadThreshold> limits);
  void set_nice_ratio(double ratio);
  void set_max_lag(std::optional<std::chrono::milliseconds> max_lag);
  void set_throttle_query(std::string sql);

  double nice_ratio() const;
  std::string max_load() const;
  std::string critical_load() const;
  std::optional<std::chrono::milliseconds> max_lag() const;
  std::string throttle_query() const;

 private:
  void run();
  void probe_once();

  std::unique_ptr<LoadProbe> probe_;
  mutable std::mutex mutex_;
  ThrottleSettings settings_;                 // guarded by mutex_
  std::optional<std::string> server_reason_;  // guarded by mutex_
  std::optional<std::string> abort_;          // guarded by mutex_
  CriticalLoadTimer critical_timer_;
  std::atomic<bool> requested_throttle_{false};
  std::atomic<bool> cut_over_requested_{false};
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace sluice

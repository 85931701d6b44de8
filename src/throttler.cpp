#include "src/throttler.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <set>

#include "src/error.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kProbeInterval{1000};

bool file_exists(const std::string& path) {
  struct stat info {};
  return !path.empty() && ::stat(path.c_str(), &info) == 0;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return "";
  }
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

std::string number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  return std::to_string(value);
}

}  // namespace

std::vector<LoadThreshold> parse_load_thresholds(std::string_view text, std::string_view option) {
  std::vector<LoadThreshold> thresholds;
  const auto fail = [&](std::string_view item) {
    return Error(ExitCode::usage, std::string(option) + " takes NAME=NUMBER[,NAME=NUMBER…], e.g. " +
                                      "Threads_running=25; '" + std::string(item) +
                                      "' is not of that form");
  };
  while (!trim(text).empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto equals = item.find('=');
    if (equals == std::string_view::npos) {
      throw fail(item);
    }
    LoadThreshold threshold{trim(item.substr(0, equals)), 0};
    const std::string value = trim(item.substr(equals + 1));
    const auto [end, error] =
        std::from_chars(value.data(), value.data() + value.size(), threshold.limit);
    if (threshold.name.empty() || value.empty() || error != std::errc() ||
        end != value.data() + value.size() || threshold.limit < 0) {
      throw fail(item);
    }
    thresholds.push_back(std::move(threshold));
  }
  return thresholds;
}

std::string format_load_thresholds(const std::vector<LoadThreshold>& thresholds) {
  std::string out;
  for (const LoadThreshold& threshold : thresholds) {
    out += (out.empty() ? "" : ",") + threshold.name + "=" + number(threshold.limit);
  }
  return out;
}

std::optional<std::string> exceeded(const std::vector<LoadThreshold>& limits,
                                    const std::map<std::string, double>& values) {
  for (const LoadThreshold& limit : limits) {
    const auto value = values.find(limit.name);
    if (value != values.end() && value->second > limit.limit) {
      return limit.name + "=" + number(value->second) + " > " + number(limit.limit);
    }
  }
  return std::nullopt;
}

std::optional<std::string> lagging(const std::vector<ReplicaLag>& lags, milliseconds max_lag) {
  for (const ReplicaLag& replica : lags) {
    if (!replica.problem.empty() || !replica.lag) {
      // The measured lag, when there is one, is what an operator compares with the replica's
      // own view: name it too.
      const std::string problem = replica.problem.empty() ? "is not replicating" : replica.problem;
      return "replica " + replica.replica + " " + problem +
             (replica.lag ? ", " + std::to_string(replica.lag->count()) + " ms behind" : "");
    }
    if (*replica.lag > max_lag) {
      return "replica " + replica.replica + " lags " + std::to_string(replica.lag->count()) +
             " ms > " + std::to_string(max_lag.count()) + " ms";
    }
  }
  return std::nullopt;
}

bool CriticalLoadTimer::update(bool over, std::chrono::steady_clock::time_point now) {
  if (!over) {
    over_since_.reset();
    return false;
  }
  if (!over_since_) {
    over_since_ = now;
  }
  return now - *over_since_ >= interval_;
}

bool ThrottleSettings::probes_server() const {
  return !max_load.empty() || !critical_load.empty() || !throttle_query.empty() ||
         max_lag.has_value();
}

Throttler::Throttler(ThrottleSettings settings, std::unique_ptr<LoadProbe> probe)
    : probe_(std::move(probe)),
      settings_(std::move(settings)),
      critical_timer_(settings_.critical_load_interval) {}

Throttler::~Throttler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Throttler::start() {
  if (!probe_) {
    return;
  }
  {
    // A metric the server does not have is a typo: refuse it now rather than probe in vain.
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    for (const auto* limits : {&settings_.max_load, &settings_.critical_load}) {
      for (const LoadThreshold& limit : *limits) {
        names.push_back(limit.name);
      }
    }
    if (!names.empty()) {
      probe_->load(names);
    }
  }
  probe_once();
  thread_ = std::thread([this] { run(); });
}

void Throttler::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kProbeInterval, [this] { return stopping_; })) {
    lock.unlock();
    probe_once();
    lock.lock();
  }
}

void Throttler::probe_once() {
  ThrottleSettings settings;
  {
    std::lock_guard lock(mutex_);
    settings = settings_;
  }
  std::optional<std::string> reason;
  std::optional<std::string> critical;
  try {
    std::set<std::string> unique;
    for (const auto* limits : {&settings.max_load, &settings.critical_load}) {
      for (const LoadThreshold& limit : *limits) {
        unique.insert(limit.name);
      }
    }
    const std::map<std::string, double> load =
        unique.empty() ? std::map<std::string, double>()
                       : probe_->load(std::vector<std::string>(unique.begin(), unique.end()));
    critical = exceeded(settings.critical_load, load);
    reason = exceeded(settings.max_load, load);
    if (reason) {
      *reason = "max-load " + *reason;
    }
    if (!reason && settings.max_lag) {
      reason = lagging(probe_->replica_lag(), *settings.max_lag);
    }
    if (!reason && !settings.throttle_query.empty()) {
      const double value = probe_->throttle_query(settings.throttle_query);
      if (value > 0) {
        reason = "throttle query returned " + number(value);
      }
    }
  } catch (const std::exception& error) {
    // Throttling is the safe answer to a server sluice cannot read.
    reason = std::string("cannot read the server's load: ") + error.what();
  }
  std::lock_guard lock(mutex_);
  if (reason != server_reason_) {
    if (reason) {
      spdlog::info("throttling: {}", *reason);
    } else if (server_reason_) {
      spdlog::info("no longer throttled by the server's load");
    }
  }
  server_reason_ = reason;
  if (critical_timer_.update(critical.has_value(), std::chrono::steady_clock::now()) && !abort_) {
    abort_ = "critical-load " + *critical;
  }
}

std::optional<std::string> Throttler::throttle_reason() const {
  if (requested_throttle_) {
    return "throttled through the control socket";
  }
  std::lock_guard lock(mutex_);
  if (file_exists(settings_.throttle_flag_file)) {
    return "throttle flag file " + settings_.throttle_flag_file + " exists";
  }
  return server_reason_;
}

std::optional<std::string> Throttler::postpone_reason() const {
  if (cut_over_requested_) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  if (file_exists(settings_.postpone_flag_file)) {
    return "postpone flag file " + settings_.postpone_flag_file + " exists";
  }
  return std::nullopt;
}

std::optional<std::string> Throttler::abort_reason() const {
  std::lock_guard lock(mutex_);
  if (abort_) {
    return abort_;
  }
  if (file_exists(settings_.panic_flag_file)) {
    return "panic flag file " + settings_.panic_flag_file + " exists";
  }
  return std::nullopt;
}

void Throttler::request_panic() {
  std::lock_guard lock(mutex_);
  if (!abort_) {
    abort_ = "panic requested through the control socket";
  }
}

void Throttler::set_max_load(std::vector<LoadThreshold> limits) {
  std::lock_guard lock(mutex_);
  settings_.max_load = std::move(limits);
}

void Throttler::set_critical_load(std::vector<LoadThreshold> limits) {
  std::lock_guard lock(mutex_);
  settings_.critical_load = std::move(limits);
}

void Throttler::set_nice_ratio(double ratio) {
  std::lock_guard lock(mutex_);
  settings_.nice_ratio = ratio;
}

void Throttler::set_max_lag(std::optional<milliseconds> max_lag) {
  std::lock_guard lock(mutex_);
  settings_.max_lag = max_lag;
}

void Throttler::set_throttle_query(std::string sql) {
  std::lock_guard lock(mutex_);
  settings_.throttle_query = std::move(sql);
}

std::optional<milliseconds> Throttler::max_lag() const {
  std::lock_guard lock(mutex_);
  return settings_.max_lag;
}

std::string Throttler::throttle_query() const {
  std::lock_guard lock(mutex_);
  return settings_.throttle_query;
}

double Throttler::nice_ratio() const {
  std::lock_guard lock(mutex_);
  return settings_.nice_ratio;
}

std::string Throttler::max_load() const {
  std::lock_guard lock(mutex_);
  return format_load_thresholds(settings_.max_load);
}

std::string Throttler::critical_load() const {
  std::lock_guard lock(mutex_);
  return format_load_thresholds(settings_.critical_load);
}

}  // namespace sluice

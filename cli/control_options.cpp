#include "cli/control_options.h"

#include <unistd.h>

#include <iostream>

#include "cli/options.h"
#include "src/error.h"
#include "src/load_probe.h"
#include "src/server_family.h"

namespace sluice::cli {

namespace po = boost::program_options;

void ControlOptions::add_to(po::options_description& description) {
  po::options_description control("steering a running migration (docs/control.md)");
  control.add_options()("throttle-flag-file", po::value(&throttle_flag_file),
                        "while this file exists, the copy pauses (the change stream is still "
                        "read)")(
      "postpone-cutover-flag-file", po::value(&postpone_flag_file),
      "while this file exists, sluice keeps applying changes and does not cut over")(
      "panic-flag-file", po::value(&panic_flag_file),
      "when this file appears, abort: drop the shadow table, keep the original (exit code 7)")(
      "max-load", po::value(&max_load),
      "pause while a load metric is above its limit: MySQL status variables "
      "(Threads_running=25,Threads_connected=500); PostgreSQL active_backends, backends, "
      "idle_in_transaction, lock_waiting")(
      "critical-load", po::value(&critical_load),
      "abort when a load metric is above its limit (same form as --max-load)")(
      "critical-load-interval", po::value(&critical_load_interval_ms)->default_value(0),
      "abort only when --critical-load stays exceeded this long, in milliseconds")(
      "nice-ratio", po::value(&nice_ratio)->default_value(0),
      "after each chunk, rest this many times the chunk's duration (0.5: copy 2/3 of the time)")(
      "throttle-query", po::value(&throttle_query),
      "SQL run once a second; the copy pauses while its first column is above 0")(
      "max-lag-millis", po::value(&max_lag_ms)->default_value(0),
      "pause while a replica lags more than this, or cannot be shown to keep up: stopped, "
      "broken, unreachable (0: not checked)")(
      "throttle-control-replicas", po::value(&replicas),
      "replicas for --max-lag-millis: MySQL DSNs (comma separated; same password), PostgreSQL "
      "standby application_names (default: every standby)")(
      "chunk-size", po::value<long>()->notifier([this](long rows) { chunk_size = rows; }),
      "copy exactly this many rows per chunk instead of sizing chunks by --chunk-time")(
      "serve-socket-file", po::value(&socket_file),
      "answer control commands on this Unix socket (mode 0600; send 'help')")(
      "status-interval", po::value(&status_interval_s)->default_value(30),
      "seconds between status lines (and on-status hooks and metrics) when not on a terminal")(
      "metrics-file", po::value(&metrics_file),
      "keep the migration's state in this file in the Prometheus text format, rewritten at "
      "every status interval and change of phase (node_exporter textfile collector: *.prom)")(
      "json", po::bool_switch(&json),
      "print one JSON object per status event and a JSON summary on stdout")(
      "hooks-path", po::value(&hooks_path),
      "run executables named on-startup, on-rowcount-complete, on-begin-copy, on-status, "
      "on-before-cut-over, on-success, on-failure from this directory")(
      "hooks-timeout", po::value(&hooks_timeout_s)->default_value(60),
      "seconds a hook may run before it is killed and counts as failed");
  description.add(control);
}

bool ControlOptions::needs_probe() const {
  return !max_load.empty() || !critical_load.empty() || !throttle_query.empty() || max_lag_ms > 0 ||
         !socket_file.empty();
}

std::vector<std::string> ControlOptions::replica_list() const {
  std::vector<std::string> list;
  std::string_view rest = replicas;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (!item.empty()) {
      list.emplace_back(item);
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return list;
}

ControllerSettings ControlOptions::settings(const Dsn& dsn) const {
  if (critical_load_interval_ms < 0 || max_lag_ms < 0 || hooks_timeout_s <= 0 ||
      status_interval_s <= 0) {
    throw Error(ExitCode::usage,
                "--critical-load-interval and --max-lag-millis must not be negative; "
                "--status-interval and --hooks-timeout must be positive");
  }
  if (chunk_size && *chunk_size <= 0) {
    throw Error(ExitCode::usage, "--chunk-size " + std::to_string(*chunk_size) +
                                     " is not a number of rows; give at least 1, or leave it "
                                     "out to size chunks by --chunk-time");
  }
  require_parent_directory(throttle_flag_file, "--throttle-flag-file");
  require_parent_directory(postpone_flag_file, "--postpone-cutover-flag-file");
  require_parent_directory(panic_flag_file, "--panic-flag-file");
  require_parent_directory(socket_file, "--serve-socket-file");
  require_directory(hooks_path, "--hooks-path");
  if (nice_ratio < 0 || nice_ratio > 100) {
    throw Error(ExitCode::usage, "--nice-ratio takes a number from 0 to 100, e.g. 0.5");
  }
  if (max_lag_ms > 0 && dsn.kind == ServerKind::mysql && replicas.empty()) {
    throw Error(ExitCode::usage,
                "--max-lag-millis on MySQL needs the replicas to watch: add "
                "--throttle-control-replicas mysql://user@replica:3306[,…]");
  }
  ControllerSettings settings;
  ThrottleSettings& throttle = settings.throttle;
  throttle.throttle_flag_file = throttle_flag_file;
  throttle.postpone_flag_file = postpone_flag_file;
  throttle.panic_flag_file = panic_flag_file;
  throttle.max_load = parse_load_thresholds(max_load, "--max-load");
  throttle.critical_load = parse_load_thresholds(critical_load, "--critical-load");
  throttle.critical_load_interval = std::chrono::milliseconds(critical_load_interval_ms);
  throttle.nice_ratio = nice_ratio;
  throttle.throttle_query = throttle_query;
  if (max_lag_ms > 0) {
    throttle.max_lag = std::chrono::milliseconds(max_lag_ms);
  }
  if (chunk_size) {
    settings.chunk_rows = static_cast<std::uint64_t>(*chunk_size);
  }
  settings.socket_path = socket_file;
  settings.metrics_path = metrics_file;
  settings.progress.tty = ::isatty(STDERR_FILENO) == 1;
  settings.progress.json = json;
  settings.progress.interval =
      std::chrono::milliseconds(static_cast<long>(status_interval_s * 1000));
  settings.hooks_path = hooks_path;
  settings.hooks_time_limit = std::chrono::seconds(hooks_timeout_s);
  settings.hook_environment["SLUICE_DSN"] = dsn.display();
  settings.hook_environment["SLUICE_DATABASE"] = dsn.database;
  return settings;
}

std::unique_ptr<Controller> ControlOptions::make_controller(
    const Dsn& dsn, const std::optional<std::string>& password,
    const std::map<std::string, std::string>& hook_environment) const {
  ControllerSettings controller = settings(dsn);
  controller.hook_environment.insert(hook_environment.begin(), hook_environment.end());
  std::unique_ptr<LoadProbe> probe;
  if (needs_probe()) {
    probe = server_family(dsn.kind).load_probe(dsn, password, replica_list());
  }
  return std::make_unique<Controller>(std::move(controller), std::move(probe), std::cout);
}

}  // namespace sluice::cli

#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "src/controller.h"
#include "src/dsn.h"

namespace sluice::cli {

// The options of `sluice alter --execute` that steer a running migration: sentinel files,
// load-based throttling, the control socket, progress output, metrics and hooks
// (docs/control.md).
struct ControlOptions {
  std::string throttle_flag_file;
  std::string postpone_flag_file;
  std::string panic_flag_file;
  std::string max_load;
  std::string critical_load;
  long critical_load_interval_ms = 0;
  double nice_ratio = 0;
  std::string throttle_query;
  long max_lag_ms = 0;
  std::string replicas;
  std::optional<long> chunk_size;  // unset: chunks sized by time
  std::string socket_file;
  std::string metrics_file;
  double status_interval_s = 30;
  bool json = false;
  std::string hooks_path;
  long hooks_timeout_s = 60;

  void add_to(boost::program_options::options_description& description);

  // Validates the values (a flag file, socket or hooks directory must be in an existing
  // directory) and turns them into the Controller's settings; throws Error(ExitCode::usage)
  // naming the option at fault.
  ControllerSettings settings(const Dsn& dsn) const;

  // Whether the Controller needs a LoadProbe (load limits, lag, query, or a socket that may set
  // them later).
  bool needs_probe() const;

  // The replicas of --throttle-control-replicas, split at commas.
  std::vector<std::string> replica_list() const;

  // The Controller of one run (its files, probes, socket, progress output and hooks); the hooks
  // also get `hook_environment`.
  std::unique_ptr<Controller> make_controller(
      const Dsn& dsn, const std::optional<std::string>& password,
      const std::map<std::string, std::string>& hook_environment) const;
};

}  // namespace sluice::cli

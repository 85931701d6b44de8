#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/control_options.h"
#include "src/controller.h"
#include "src/dsn.h"
#include "src/lease.h"
#include "src/migrator.h"
#include "src/rebuild_backend.h"
#include "src/run_recorder.h"

namespace sluice::cli {

// What `sluice alter` and `sluice revert` share: the options of their lock waits and write
// blocks, and how a run is steered, recorded and resumed.

// --cutover-lock-timeout, --cutover-attempts, --max-write-block and --reconnect-timeout.
struct LockOptions {
  long lock_ms = 2000;
  int attempts = 5;
  long block_ms = 1000;
  long reconnect_seconds = 60;

  void add_to(boost::program_options::options_description& description);
  // Sets them on `options`; throws Error(ExitCode::usage) unless each is positive.
  void apply(RebuildOptions& options) const;
};

ddl::Dialect dialect_of(const Dsn& dsn);
std::optional<std::string> metadata_schema_option(const std::string& value);

// The Controller of one run: its files, probes, socket, progress output and hooks.
std::unique_ptr<Controller> make_controller(const ControlOptions& control, const Dsn& dsn,
                                            const std::optional<std::string>& password,
                                            const RebuildOptions& options);

// Runs `run` with the migrator steered by `controller` and recorded by `recorder`: the summary
// or the failure reaches both. When the run is recorded as failed (not kept to resume), `aborted`
// runs first: a revert gives its adopted old table its name back there, wherever it failed (the
// Migrator's guard covers the run itself, not its planning).
int run_migration(
    Migrator& migrator, RunRecorder& recorder, Controller& controller,
    const std::function<RebuildSummary()>& run, const std::function<void()>& aborted = [] {});

// run_migration's `aborted` for a run of `options`: a revert's gives the old table it adopted its
// name back (a warning when it cannot; sluice cleanup does it then); nothing for other runs.
std::function<void()> give_back_on_abort(RebuildBackend& backend, const RebuildOptions& options);

// Starts the controller (on-startup, panic file, critical load), reporting a refusal to it.
void start_controller(Controller& controller, const std::string& table);

// Opens the phase metadata of `dsn`'s server, again after each lost connection.
Lease::StoreFactory store_factory(const Dsn& dsn, const std::optional<std::string>& password,
                                  const std::optional<std::string>& metadata_schema,
                                  const std::string& fallback_schema);

// Records `record` as a new run (RunRecorder), reporting a refusal to `controller`.
std::unique_ptr<RunRecorder> record_run(const Lease::StoreFactory& store, MigrationRecord record,
                                        Controller& controller);

// Continues the recorded run `name` (a killed `sluice alter` or `sluice revert`) from its
// checkpoint.
int resume_run(const Dsn& dsn, const std::optional<std::string>& password,
               const std::optional<std::string>& metadata_schema, const std::string& name,
               const ControlOptions& control, RebuildOptions options);

}  // namespace sluice::cli

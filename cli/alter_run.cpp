#include "cli/alter_run.h"

#include <spdlog/spdlog.h>

#include "cli/stop_signals.h"
#include "src/error.h"
#include "src/server_errors.h"
#include "src/server_family.h"

namespace sluice::cli {

namespace po = boost::program_options;

void LockOptions::add_to(po::options_description& description) {
  description.add_options()(
      "cutover-lock-timeout", po::value(&lock_ms)->default_value(2000),
      "longest wait for the write lock at verification and cut-over, in milliseconds")(
      "cutover-attempts", po::value(&attempts)->default_value(5),
      "how often to retry a cut-over that could not get its lock")(
      "max-write-block", po::value(&block_ms)->default_value(1000),
      "longest time verification and the cut-over keep writes blocked while they apply the last "
      "changes, in milliseconds; past it they release the lock, catch up and try again "
      "(--cutover-attempts times)")(
      "reconnect-timeout", po::value(&reconnect_seconds)->default_value(60),
      "after losing a connection to the server, keep reconnecting (with back-off) this many "
      "seconds before giving up; the run can then be resumed with --resume");
}

void LockOptions::apply(RebuildOptions& options) const {
  if (lock_ms <= 0 || block_ms <= 0 || attempts <= 0 || reconnect_seconds <= 0) {
    throw Error(ExitCode::usage,
                "--cutover-lock-timeout, --max-write-block, --cutover-attempts and "
                "--reconnect-timeout must be positive");
  }
  options.cutover_lock_timeout = std::chrono::milliseconds(lock_ms);
  options.cutover_attempts = attempts;
  options.max_write_block = std::chrono::milliseconds(block_ms);
  options.reconnect.give_up_after = std::chrono::seconds(reconnect_seconds);
  options.reconnect.stop = &StopSignals::requested();
}

ddl::Dialect dialect_of(const Dsn& dsn) {
  return dsn.kind == ServerKind::postgres ? ddl::Dialect::postgres : ddl::Dialect::mysql;
}

std::optional<std::string> metadata_schema_option(const std::string& value) {
  return value.empty() ? std::nullopt : std::optional<std::string>(value);
}

std::unique_ptr<Controller> make_controller(const ControlOptions& control, const Dsn& dsn,
                                            const std::optional<std::string>& password,
                                            const RebuildOptions& options) {
  return control.make_controller(
      dsn, password, {{"SLUICE_TABLE", options.table}, {"SLUICE_ALTER", options.alter}});
}

int run_migration(Migrator& migrator, RunRecorder& recorder, Controller& controller,
                  const std::function<RebuildSummary()>& run,
                  const std::function<void()>& aborted) {
  migrator.set_listener(&recorder);
  migrator.set_control(controller);
  try {
    controller.succeeded(run());
  } catch (const RunSuspended& error) {
    // Not aborted: the record stays resumable, with its checkpoint.
    const Error suspended(error.code(), std::string(error.what()) +
                                            "; the shadow table and the checkpoint are kept: "
                                            "once the server is reachable, run sluice alter "
                                            "--resume " +
                                            recorder.name() + " (or sluice cleanup to drop them)");
    controller.failed(suspended.code(), suspended.what());
    throw suspended;
  } catch (const Error& error) {
    const Error shown = user_error(error);
    aborted();
    recorder.failed(shown.what());
    controller.failed(shown.code(), shown.what());
    throw shown;
  } catch (const std::exception& error) {
    aborted();
    recorder.failed(error.what());
    controller.failed(ExitCode::failure, error.what());
    throw;
  }
  return 0;
}

void start_controller(Controller& controller, const std::string& table) {
  try {
    controller.start(table);
  } catch (const Error& error) {
    controller.failed(error.code(), error.what());
    throw;
  }
}

Lease::StoreFactory store_factory(const Dsn& dsn, const std::optional<std::string>& password,
                                  const std::optional<std::string>& metadata_schema,
                                  const std::string& fallback_schema) {
  return [=] {
    return server_family(dsn.kind).phase_store(dsn, password, metadata_schema, fallback_schema);
  };
}

std::unique_ptr<RunRecorder> record_run(const Lease::StoreFactory& store, MigrationRecord record,
                                        Controller& controller) {
  try {
    return std::make_unique<RunRecorder>(store, std::move(record));
  } catch (const Error& error) {
    controller.failed(error.code(), error.what());
    throw;
  }
}

std::function<void()> give_back_on_abort(RebuildBackend& backend, const RebuildOptions& options) {
  if (options.reverting_old_table.empty()) {
    return [] {};
  }
  return [&backend, options] {
    try {
      backend.restore_old_table(options.table, options.reverting_old_table);
    } catch (const std::exception& error) {
      spdlog::warn(
          "could not give the old table its name {} back ({}); sluice cleanup --table {} "
          "does",
          options.reverting_old_table, error.what(), options.table);
    }
  };
}

int resume_run(const Dsn& dsn, const std::optional<std::string>& password,
               const std::optional<std::string>& metadata_schema, const std::string& name,
               const ControlOptions& control, RebuildOptions options) {
  std::unique_ptr<RunRecorder> recorder =
      RunRecorder::take_over(store_factory(dsn, password, metadata_schema, ""), name);
  read_rebuild_spec(recorder->record(), options);
  options.resume = true;
  const Checkpoint checkpoint = checkpoint_from_json(recorder->record().checkpoint);
  std::unique_ptr<RebuildBackend> backend = server_family(dsn.kind).rebuild_backend(dsn, password);
  if (!options.reverting_old_table.empty()) {
    // A revert killed before it adopted the old table: adopted now (nothing if it had).
    backend->adopt_old_table(options.table, options.reverting_old_table);
  }
  std::unique_ptr<Controller> controller = make_controller(control, dsn, password, options);
  start_controller(*controller, options.table);
  StopSignals signals;
  Migrator migrator(*backend, options, StopSignals::requested());
  try {
    return run_migration(
        migrator, *recorder, *controller, [&] { return migrator.resume(checkpoint); },
        give_back_on_abort(*backend, options));
  } catch (const Error& error) {
    if (error.code() != ExitCode::stream) {
      throw;
    }
    throw Error(ExitCode::stream, "cannot resume migration '" + name + "' from its checkpoint (" +
                                      error.what() +
                                      "); start a new run with sluice alter (sluice cleanup "
                                      "removes anything left)");
  }
}

}  // namespace sluice::cli

#include <ctime>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/control_options.h"
#include "cli/options.h"
#include "cli/stop_signals.h"
#include "src/controller.h"
#include "src/error.h"
#include "src/migrator.h"
#include "src/rebuild_backend.h"
#include "src/run_recorder.h"
#include "src/server_errors.h"
#include "src/server_family.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

std::string join_names(ddl::Dialect dialect, const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    out += (out.empty() ? "" : ", ") + ddl::quote_identifier(dialect, name);
  }
  return out.empty() ? "none" : out;
}

// `in_place`: --execute tries to apply the change in place first.
void print_plan(const RebuildPlan& plan, bool in_place) {
  const TableSchema& source = plan.source;
  std::vector<std::string> key;
  for (std::size_t column : source.key_columns) {
    key.push_back(source.columns[column].name);
  }
  std::vector<std::string> copied;
  for (std::size_t column : plan.mapped_columns) {
    copied.push_back(source.columns[column].name);
  }
  const ddl::Dialect dialect = plan.dialect;
  std::cout << "plan for " << ddl::quote_qualified(dialect, source.name) << "\n"
            << "  key the copy walks: " << source.key_name << " (" << join_names(dialect, key)
            << ")\n"
            << "  estimated rows:     " << plan.estimated_rows << "\n"
            << "  columns copied:     " << join_names(dialect, copied) << "\n"
            << "  columns added:      " << join_names(dialect, plan.analysis.added_columns) << "\n"
            << "  columns dropped:    " << join_names(dialect, plan.analysis.dropped_columns)
            << "\n"
            << "  columns changed:    " << join_names(dialect, plan.analysis.modified_columns)
            << "\n"
            << "  shadow table:\n";
  for (const std::string& statement : plan.shadow_ddl) {
    std::cout << "    " << statement << ";\n";
  }
  if (plan.analysis.adds_unique_key) {
    std::cout << "  the ALTER adds a UNIQUE key: rows that duplicate a kept row's values in it "
                 "are discarded and counted (--discard-duplicates)\n";
  }
  const std::string kept = "the original table is kept as " +
                           ddl::quote_qualified(dialect, plan.old) +
                           " after the swap (dropped with --drop-old-table)";
  if (!in_place) {
    std::cout << "  " << kept << "\n";
    return;
  }
  // Changed in place, the table keeps its name and no old table is left behind.
  std::cout << (dialect == ddl::Dialect::mysql
                    ? "  the server may apply this change in place (ALGORITHM=INSTANT) without "
                      "copying and without an old table; if it cannot, "
                    : "  the server applies this change in its catalog without copying and "
                      "without an old table; if it cannot, ")
            << kept << "\n";
}

ddl::Dialect dialect_of(const Dsn& dsn) {
  return dsn.kind == ServerKind::postgres ? ddl::Dialect::postgres : ddl::Dialect::mysql;
}

std::optional<std::string> metadata_schema_option(const std::string& value) {
  return value.empty() ? std::nullopt : std::optional<std::string>(value);
}

// The Controller of one run: its files, probes, socket, progress output and hooks.
std::unique_ptr<Controller> make_controller(const ControlOptions& control, const Dsn& dsn,
                                            const std::optional<std::string>& password,
                                            const RebuildOptions& options) {
  return control.make_controller(
      dsn, password, {{"SLUICE_TABLE", options.table}, {"SLUICE_ALTER", options.alter}});
}

// Runs `run` with the migrator steered by `controller` and recorded by `recorder`: the summary
// or the failure reaches both.
int run_migration(Migrator& migrator, RunRecorder& recorder, Controller& controller,
                  const std::function<RebuildSummary()>& run) {
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
    recorder.failed(shown.what());
    controller.failed(shown.code(), shown.what());
    throw shown;
  } catch (const std::exception& error) {
    recorder.failed(error.what());
    controller.failed(ExitCode::failure, error.what());
    throw;
  }
  return 0;
}

// Starts the controller (on-startup, panic file, critical load), reporting a refusal to it.
void start_controller(Controller& controller, const std::string& table) {
  try {
    controller.start(table);
  } catch (const Error& error) {
    controller.failed(error.code(), error.what());
    throw;
  }
}

// Opens the phase metadata of `dsn`'s server, again after each lost connection.
Lease::StoreFactory store_factory(const Dsn& dsn, const std::optional<std::string>& password,
                                  const std::optional<std::string>& metadata_schema,
                                  const std::string& fallback_schema) {
  return [=] {
    return server_family(dsn.kind).phase_store(dsn, password, metadata_schema, fallback_schema);
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
  std::unique_ptr<Controller> controller = make_controller(control, dsn, password, options);
  start_controller(*controller, options.table);
  StopSignals signals;
  Migrator migrator(*backend, options, StopSignals::requested());
  try {
    return run_migration(migrator, *recorder, *controller,
                         [&] { return migrator.resume(checkpoint); });
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

}  // namespace

int run_alter(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  ControlOptions control;
  RebuildOptions options;
  bool execute = false;
  bool maintain_indexes = false;
  std::string name;
  std::string resume;
  std::string metadata_schema;
  long chunk_ms = 500;
  long lock_ms = 2000;
  long block_ms = 1000;
  long reconnect_seconds = 60;
  po::options_description description("sluice alter options");
  connection.add_to(description);
  description.add_options()(
      "table", po::value(&options.table),
      "table to change: name or database.name (MySQL), name or schema.name (PostgreSQL)")(
      "alter", po::value(&options.alter),
      "the ALTER TABLE specification, e.g. \"ADD COLUMN note TEXT, MODIFY k BIGINT\" or, on "
      "PostgreSQL, \"ALTER COLUMN k TYPE bigint\"")(
      "execute", po::bool_switch(&execute),
      "run the migration (without it: print the plan and change nothing)")(
      "force-rebuild", po::bool_switch(&options.force_rebuild),
      "copy the table even when the server could apply the change in place")(
      "maintain-indexes-during-copy", po::bool_switch(&maintain_indexes),
      "MySQL/MariaDB: keep the new table's secondary indexes during the copy instead of building "
      "them after it (slower, but a replica never applies one long index build)")(
      "resume", po::value(&resume),
      "continue the killed run NAME from its checkpoint (the table and the ALTER come from its "
      "record)")(
      "name", po::value(&name),
      "name of this migration in the phase metadata (default: alter-<table>-<UTC time>)")(
      "metadata-schema", po::value(&metadata_schema),
      "where the phase metadata lives (MySQL default: the DSN's database, else the table's; "
      "PostgreSQL: sluice)")("drop-old-table", po::bool_switch(&options.drop_old_table),
                             "drop the old table after a successful cut-over (default: keep it)")(
      "discard-duplicates", po::bool_switch(&options.discard_duplicates),
      "allow an ALTER that adds a UNIQUE key: keep one row per value, discard and count the "
      "others")("chunk-time", po::value(&chunk_ms)->default_value(500),
                "target duration of one copy chunk, in milliseconds")(
      "cutover-lock-timeout", po::value(&lock_ms)->default_value(2000),
      "longest wait for the write lock at verification and cut-over, in milliseconds")(
      "cutover-attempts", po::value(&options.cutover_attempts)->default_value(5),
      "how often to retry a cut-over that could not get its lock")(
      "max-write-block", po::value(&block_ms)->default_value(1000),
      "longest time verification and the cut-over keep writes blocked while they apply the last "
      "changes, in milliseconds; past it they release the lock, catch up and try again "
      "(--cutover-attempts times)")(
      "reconnect-timeout", po::value(&reconnect_seconds)->default_value(60),
      "after losing a connection to the server, keep reconnecting (with back-off) this many "
      "seconds before giving up; the run can then be resumed with --resume");
  control.add_to(description);
  if (!parse_options(args, description,
                     "sluice alter --dsn URL --table NAME --alter SPEC [--execute]")) {
    return 0;
  }
  if (chunk_ms <= 0 || lock_ms <= 0 || block_ms <= 0 || options.cutover_attempts <= 0 ||
      reconnect_seconds <= 0) {
    throw Error(ExitCode::usage,
                "--chunk-time, --cutover-lock-timeout, --max-write-block, --cutover-attempts and "
                "--reconnect-timeout must be positive");
  }
  options.hold_back_indexes = !maintain_indexes;
  options.reconnect.give_up_after = std::chrono::seconds(reconnect_seconds);
  options.reconnect.stop = &StopSignals::requested();
  options.chunk_time = std::chrono::milliseconds(chunk_ms);
  options.cutover_lock_timeout = std::chrono::milliseconds(lock_ms);
  options.max_write_block = std::chrono::milliseconds(block_ms);
  const Dsn dsn = connection.dsn();
  control.settings(dsn);  // bad steering options are refused before anything else
  if (!resume.empty()) {
    if (!options.table.empty() || !options.alter.empty() || !name.empty()) {
      throw Error(ExitCode::usage,
                  "--resume takes the table, the ALTER and the name from the recorded run; leave "
                  "out --table, --alter and --name");
    }
    return resume_run(dsn, connection.resolve_password(dsn),
                      metadata_schema_option(metadata_schema), resume, control, options);
  }
  if (options.table.empty() || options.alter.empty()) {
    throw Error(ExitCode::usage, "--table and --alter are required; see sluice alter --help");
  }
  const std::optional<std::string> password = connection.resolve_password(dsn);
  std::unique_ptr<RebuildBackend> backend = server_family(dsn.kind).rebuild_backend(dsn, password);
  if (!execute) {
    const RebuildPlan& plan = backend->plan(options);
    print_plan(plan, plan.try_instant && !options.force_rebuild);
    std::cout << "dry run: nothing was changed; add --execute to migrate\n";
    return 0;
  }
  const ddl::QualifiedName table = backend->resolve_table(options.table);
  const std::string canonical = ddl::quote_qualified(dialect_of(dsn), table);
  // A live or resumable run's shadow table would otherwise be reported as a leftover by the plan.
  const Lease::StoreFactory store =
      store_factory(dsn, password, metadata_schema_option(metadata_schema), table.schema);
  {
    std::unique_ptr<PhaseStore> metadata = store();
    refuse_while_in_progress(*metadata, canonical);
    refuse_stopped_run(*metadata, canonical, options.table);
  }
  // Every refusal comes before anything is written, the phase metadata included.
  const RebuildPlan& plan = backend->plan(options);
  // Recorded, so that a resume swaps to the same names however many old tables exist by then.
  options.old_suffix = plan.old_suffix;
  MigrationRecord record = rebuild_record(canonical, table.name, options, plan.old.name, name);
  std::unique_ptr<Controller> controller = make_controller(control, dsn, password, options);
  start_controller(*controller, options.table);
  std::unique_ptr<RunRecorder> recorder;
  try {
    recorder = std::make_unique<RunRecorder>(store, std::move(record));
  } catch (const Error& error) {
    controller->failed(error.code(), error.what());
    throw;
  }
  StopSignals signals;
  Migrator migrator(*backend, options, StopSignals::requested());
  return run_migration(migrator, *recorder, *controller, [&] { return migrator.execute(plan); });
}

int run_cleanup(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string table;
  po::options_description description("sluice cleanup options");
  connection.add_to(description);
  std::string metadata_schema;
  description.add_options()(
      "table", po::value(&table)->required(),
      "table whose leftovers to remove: name or database.name (PostgreSQL: schema.name)")(
      "metadata-schema", po::value(&metadata_schema),
      "where the phase metadata lives (to refuse while a run of the table is alive)");
  if (!parse_options(args, description, "sluice cleanup --dsn URL --table NAME")) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  const std::optional<std::string> password = connection.resolve_password(dsn);
  std::unique_ptr<RebuildBackend> backend = server_family(dsn.kind).rebuild_backend(dsn, password);
  const ddl::QualifiedName name = backend->resolve_table(table);
  const std::string canonical = ddl::quote_qualified(dialect_of(dsn), name);
  std::unique_ptr<PhaseStore> store =
      store_factory(dsn, password, metadata_schema_option(metadata_schema), name.schema)();
  refuse_while_in_progress(*store, canonical);
  const std::vector<std::string> dropped = backend->cleanup(table);
  abandon_stopped_runs(*store, canonical);
  if (dropped.empty()) {
    std::cout << "nothing to clean up for " << table << "\n";
  }
  for (const std::string& name : dropped) {
    std::cout << "dropped " << name << "\n";
  }
  return 0;
}

}  // namespace sluice::cli

#include <ctime>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/alter_run.h"
#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/control_options.h"
#include "cli/options.h"
#include "cli/stop_signals.h"
#include "src/controller.h"
#include "src/error.h"
#include "src/migration_spec.h"
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

// --revertible, up front: what the ALTER says a revert would lose (added and dropped columns).
// Migrator::refuse_lossy_revert checks the built shadow again before the swap, unique keys too.
void refuse_unrevertible(const RebuildPlan& plan, const RebuildOptions& options) {
  const std::string why = "--revertible: ";
  if (options.drop_old_table || (plan.try_instant && !options.force_rebuild)) {
    throw Error(ExitCode::preflight_failed,
                why + (options.drop_old_table
                           ? std::string("--drop-old-table leaves no old table to revert to")
                           : std::string("a change the server may make in place keeps no old "
                                         "table to revert to; add --force-rebuild")));
  }
  std::vector<std::string> losses;
  if (!plan.analysis.added_columns.empty()) {
    losses.push_back("the values of " + join_names(plan.dialect, plan.analysis.added_columns) +
                     " would be lost");
  }
  if (!plan.analysis.dropped_columns.empty()) {
    losses.push_back("rows written after the cut-over would get the default of " +
                     join_names(plan.dialect, plan.analysis.dropped_columns));
  }
  if (!losses.empty() && !options.allow_lossy_revert) {
    throw Error(ExitCode::preflight_failed,
                why + "reverting this change would lose data (" + losses.front() +
                    (losses.size() > 1 ? "; " + losses.back() : std::string()) +
                    "); add --allow-lossy-revert to accept that, or leave out --revertible");
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
  LockOptions locks;
  std::string revert_window = "24h";
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
      "revert-window", po::value(&revert_window)->default_value("24h"),
      "how long after the cut-over sluice revert may undo the migration (90s, 15m, 24h, 7d)")(
      "revertible", po::bool_switch(&options.revertible),
      "refuse, before anything is written, a change that sluice revert could not undo without "
      "losing data; on PostgreSQL, needed for sluice revert at all (it keeps a replication slot "
      "for the revert window)")("allow-lossy-revert", po::bool_switch(&options.allow_lossy_revert),
                                "with --revertible: accept a lossy revert");
  locks.add_to(description);
  control.add_to(description);
  if (!parse_options(args, description,
                     "sluice alter --dsn URL --table NAME --alter SPEC [--execute]")) {
    return 0;
  }
  if (chunk_ms <= 0) {
    throw Error(ExitCode::usage, "--chunk-time must be positive");
  }
  locks.apply(options);
  options.hold_back_indexes = !maintain_indexes;
  options.chunk_time = std::chrono::milliseconds(chunk_ms);
  options.revert_window = std::chrono::seconds(parse_duration(revert_window));
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
  if (options.revertible) {
    refuse_unrevertible(plan, options);
  }
  // Recorded, so that a resume swaps to the same names however many old tables exist by then.
  options.old_suffix = plan.old_suffix;
  MigrationRecord record = rebuild_record(canonical, table.name, options, plan.old.name, name);
  std::unique_ptr<Controller> controller = make_controller(control, dsn, password, options);
  start_controller(*controller, options.table);
  std::unique_ptr<RunRecorder> recorder = record_run(store, std::move(record), *controller);
  StopSignals signals;
  Migrator migrator(*backend, options, StopSignals::requested());
  return run_migration(migrator, *recorder, *controller, [&] { return migrator.execute(plan); });
}

namespace {

// A stopped revert's shadow is the old table it adopted: given its name back, never dropped.
// Only the table's latest run can hold one: a new run is refused while one is stopped, and a
// failed revert gives the old table back itself, unless the server was out of reach then.
void give_back_old_tables(PhaseStore& store, RebuildBackend& backend, const std::string& canonical,
                          const std::string& table) {
  std::optional<MigrationRecord> latest;
  for (MigrationRecord& record : store.list()) {
    if (record.table == canonical && (!latest || record.id > latest->id)) {
      latest = std::move(record);
    }
  }
  if (!latest || is_phased_spec(latest->spec) ||
      !(phase_in_progress(latest->phase) || latest->phase == Phase::aborted)) {
    return;
  }
  const nlohmann::json spec = nlohmann::json::parse(latest->spec, nullptr, false);
  const std::string old_table =
      spec.is_object() ? spec.value("reverting_old_table", std::string()) : std::string();
  if (!old_table.empty() && backend.restore_old_table(table, old_table)) {
    std::cout << "gave the old table back its name " << old_table << " (revert '" << latest->name
              << "' stopped before its cut-over)\n";
  }
}

}  // namespace

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
  give_back_old_tables(*store, *backend, canonical, table);
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

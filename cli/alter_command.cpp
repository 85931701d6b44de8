#include <iostream>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "cli/stop_signals.h"
#include "src/error.h"
#include "src/migrator.h"
#include "src/rebuild_backend.h"

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

void print_plan(const RebuildPlan& plan) {
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
  if (plan.try_instant) {
    std::cout << (dialect == ddl::Dialect::mysql
                      ? "  the server may apply this change in place (ALGORITHM=INSTANT) without "
                        "copying"
                      : "  the server applies this change in its catalog without copying")
              << "; --execute tries that first unless --force-rebuild is given\n";
  }
  std::cout << "  the original table is kept as " << ddl::quote_qualified(dialect, plan.old)
            << " after the swap\n";
}

void print_summary(const RebuildSummary& summary) {
  if (summary.applied_in_place) {
    std::cout << "done: the server applied the change in place in " << summary.duration.count()
              << " ms; no rows were copied\n";
    return;
  }
  std::cout << "done in " << summary.duration.count() << " ms: " << summary.rows_copied
            << " rows copied, " << summary.changes_applied << " changes applied, "
            << summary.rows_verified << " rows verified, writes blocked for "
            << summary.cut_over.write_block.count() << " ms at cut-over ("
            << summary.cut_over.attempts
            << (summary.cut_over.attempts == 1 ? " attempt" : " attempts") << ")\n";
}

}  // namespace

int run_alter(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  RebuildOptions options;
  bool execute = false;
  long chunk_ms = 500;
  long lock_ms = 2000;
  po::options_description description("sluice alter options");
  connection.add_to(description);
  description.add_options()(
      "table", po::value(&options.table)->required(),
      "table to change: name or database.name (MySQL), name or schema.name (PostgreSQL)")(
      "alter", po::value(&options.alter)->required(),
      "the ALTER TABLE specification, e.g. \"ADD COLUMN note TEXT, MODIFY k BIGINT\" or, on "
      "PostgreSQL, \"ALTER COLUMN k TYPE bigint\"")(
      "execute", po::bool_switch(&execute),
      "run the migration (without it: print the plan and change nothing)")(
      "force-rebuild", po::bool_switch(&options.force_rebuild),
      "copy the table even when the server could apply the change in place")(
      "chunk-time", po::value(&chunk_ms)->default_value(500),
      "target duration of one copy chunk, in milliseconds")(
      "cutover-lock-timeout", po::value(&lock_ms)->default_value(2000),
      "longest wait for the write lock at verification and cut-over, in milliseconds")(
      "cutover-attempts", po::value(&options.cutover_attempts)->default_value(5),
      "how often to retry a cut-over that could not get its lock");
  if (!parse_options(args, description,
                     "sluice alter --dsn URL --table NAME --alter SPEC [--execute]")) {
    return 0;
  }
  if (chunk_ms <= 0 || lock_ms <= 0 || options.cutover_attempts <= 0) {
    throw Error(ExitCode::usage,
                "--chunk-time, --cutover-lock-timeout and --cutover-attempts must be positive");
  }
  options.chunk_time = std::chrono::milliseconds(chunk_ms);
  options.cutover_lock_timeout = std::chrono::milliseconds(lock_ms);
  const Dsn dsn = connection.dsn();
  std::unique_ptr<RebuildBackend> backend =
      connect_rebuild_backend(dsn, connection.resolve_password(dsn));
  if (!execute) {
    print_plan(backend->plan(options));
    std::cout << "dry run: nothing was changed; add --execute to migrate\n";
    return 0;
  }
  StopSignals signals;
  Migrator migrator(*backend, options, StopSignals::requested());
  print_summary(migrator.execute());
  return 0;
}

int run_cleanup(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string table;
  po::options_description description("sluice cleanup options");
  connection.add_to(description);
  description.add_options()(
      "table", po::value(&table)->required(),
      "table whose leftovers to remove: name or database.name (PostgreSQL: schema.name)");
  if (!parse_options(args, description, "sluice cleanup --dsn URL --table NAME")) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  std::unique_ptr<RebuildBackend> backend =
      connect_rebuild_backend(dsn, connection.resolve_password(dsn));
  const std::vector<std::string> dropped = backend->cleanup(table);
  if (dropped.empty()) {
    std::cout << "nothing to clean up for " << table << "\n";
  }
  for (const std::string& name : dropped) {
    std::cout << "dropped " << name << "\n";
  }
  return 0;
}

}  // namespace sluice::cli

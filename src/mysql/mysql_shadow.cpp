#include "src/mysql/mysql_shadow.h"

#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "src/error.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_preflight.h"
#include "src/mysql/mysql_schema.h"
#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

void log_swapped(const ddl::QualifiedName& table, const ddl::QualifiedName& old) {
  spdlog::info(
      "the killed run had swapped the tables already: {} has the new schema, the old "
      "table is kept as {}",
      quote(table), quote(old));
}

}  // namespace

bool MysqlShadow::table_exists(const ddl::QualifiedName& name) {
  Connection& main = sessions_.main();
  return !main.query(table_row_sql("1", main.quote_literal(name.schema),
                                   main.quote_literal(name.name)))
              .empty();
}

bool MysqlShadow::is_sentry(const ddl::QualifiedName& name) {
  return table_comment(name) == kSentryComment;  // "" when there is no such table
}

bool MysqlShadow::complete_interrupted_swap(const std::string& table,
                                            const std::string& old_suffix) {
  const ddl::QualifiedName name = resolve_table_name(sessions_.dsn(), table);
  const ddl::QualifiedName swap = swap_name(name);
  const ddl::QualifiedName old = old_name(name, old_suffix);
  if (!table_exists(swap)) {
    // Killed after the swap and after giving the old table its kept name: a run only starts
    // while that name is free, so the table under it is this run's old table.
    if (!table_exists(shadow_name(name)) && table_exists(old)) {
      log_swapped(name, old);
      return true;
    }
    return false;
  }
  if (is_sentry(swap)) {
    // The RENAME queued behind it failed or never ran: the table is the original.
    sessions_.main().execute(drop_table_sql(swap));
    spdlog::info("dropped the sentry {} of the interrupted cut-over", quote(swap));
    return false;
  }
  if (table_exists(shadow_name(name))) {
    throw Error(ExitCode::preflight_failed,
                quote(swap) +
                    " exists and is not sluice's sentry, yet the shadow table was not "
                    "swapped in; rename or drop it, then resume again");
  }
  sessions_.main().execute(rename_table_sql(swap, old));
  log_swapped(name, old);
  return true;
}

const RebuildPlan& MysqlShadow::plan(const RebuildOptions& options) {
  Connection& main = sessions_.main();
  const ddl::QualifiedName table = resolve_table_name(sessions_.dsn(), options.table);
  run_preflight(main, table).refuse_unless_ready(options.resume ? kLeftoversCheck : "");
  reverting_old_table_ = options.reverting_old_table;
  plan_.analysis = reverting_old_table_.empty()
                       ? analyze_alter_option(ddl::Dialect::mysql, options.alter)
                       : revert_analysis(table);
  if (plan_.analysis.changes_primary_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER changes the primary key, which the copy and the change stream use to "
                "match rows; sluice does not change it online yet");
  }
  if (plan_.analysis.adds_unique_key && !options.discard_duplicates) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER adds a UNIQUE key, and rows with duplicate values cannot all be "
                "copied into it; deduplicate first, or pass --discard-duplicates to keep one row "
                "per value and have the others counted and reported");
  }
  plan_.alter = options.alter;
  plan_.source = describe_table(main, table);
  plan_.shadow = shadow_name(table);
  plan_.old_suffix = pick_old_suffix(options, quote(table), [&](const std::string& suffix) {
    return table_exists(old_name(table, suffix));
  });
  plan_.old = old_name(table, plan_.old_suffix);
  table_ = MysqlTablePlan{};
  table_.source = plan_.source;
  table_.shadow = plan_.shadow;
  table_.old = plan_.old;
  table_.swap = swap_name(table);
  table_.definition = read_definition(main, table);
  check_helper_names(options);
  plan_.mapped_columns = mapped_columns(plan_.source, plan_.analysis.dropped_columns);
  table_.mapped_columns = plan_.mapped_columns;
  plan_.estimated_rows = std::stoull(
      main.query_value(table_row_sql("COALESCE(TABLE_ROWS, 0)", main.quote_literal(table.schema),
                                     main.quote_literal(table.name)))
          .value_or("0"));
  plan_.try_instant = plan_.analysis.instant_candidate;
  plan_.shadow_ddl = shadow_ddl(table_, plan_.analysis.clauses);
  if (!options.resume) {
    validate_alter();
  }
  return plan_;
}

void MysqlShadow::validate_alter() {
  Connection& main = sessions_.main();
  const std::vector<std::string> ddl = validation_ddl(table_.source.name, plan_.analysis.clauses);
  // Dropped however the ALTER ends; it would otherwise live as long as the session.
  struct DropCopy {
    Connection& main;
    const std::string& drop;
    ~DropCopy() {
      try {
        main.execute(drop);
      } catch (const std::exception& error) {
        spdlog::debug("could not drop the temporary copy ({})", error.what());
      }
    }
  } drop_copy{main, ddl.back()};
  try {
    main.execute(ddl[0]);
    main.execute(ddl[1]);
  } catch (const ServerError& error) {
    // What only a temporary table cannot do (InnoDB: no FULLTEXT index) or a user without
    // CREATE TEMPORARY TABLES: the shadow table checks the ALTER when the run starts instead.
    if (has_code(error, ER_INNODB_NO_FT_TEMP_TABLE) || has_code(error, ER_DBACCESS_DENIED_ERROR) ||
        has_code(error, ER_TABLEACCESS_DENIED_ERROR)) {
      spdlog::info(
          "the ALTER could not be tried on a temporary copy ({}); the run checks it on "
          "the shadow table",
          error.server_message());
      return;
    }
    throw Error(ExitCode::usage, "the ALTER does not apply to " + quote(table_.source.name) + " (" +
                                     error.server_message() + "); fix --alter");
  }
}

void MysqlShadow::check_helper_names(const RebuildOptions& options) {
  if (table_exists(table_.swap)) {
    throw Error(ExitCode::preflight_failed,
                quote(table_.swap) +
                    " exists, left by an interrupted cut-over; run sluice cleanup "
                    "--table " +
                    options.table + " (it drops a sentry) or rename it");
  }
  if (options.resume && !table_exists(plan_.shadow)) {
    throw Error(ExitCode::preflight_failed,
                "the shadow table " + quote(plan_.shadow) +
                    " of the run to resume is gone, so it cannot resume; start a new run");
  }
  if (table_exists(plan_.old)) {
    throw Error(ExitCode::preflight_failed,
                quote(plan_.old) +
                    " exists, yet the run to resume keeps its old table under that name; rename "
                    "or drop that table, then resume again");
  }
}

bool MysqlShadow::apply_in_place(const RebuildOptions& options) {
  Connection& main = sessions_.main();
  main.execute(lock_wait_timeout_sql(lock_wait_seconds(options.cutover_lock_timeout)));
  const std::string sql = instant_alter_sql(table_.source.name, plan_.analysis.clauses);
  // The server refuses ALGORITHM=INSTANT at once when it would have to copy; only the wait for
  // the table's metadata lock is retried.
  return retry_lock_waits("in-place ALTER", cut_over_lock_policy(options), [&] {
    try {
      main.execute(sql);
    } catch (const ServerError& error) {
      if (has_code(error, ER_ALTER_OPERATION_NOT_SUPPORTED) ||
          has_code(error, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON)) {
        spdlog::info("the server cannot apply this change in place; rebuilding online");
        return false;
      }
      throw;
    }
    spdlog::info("the server applied the change in place (ALGORITHM=INSTANT); no copy needed");
    return true;
  });
}

std::string MysqlShadow::table_comment(const ddl::QualifiedName& name) {
  Connection& main = sessions_.main();
  return main
      .query_value(table_row_sql("TABLE_COMMENT", main.quote_literal(name.schema),
                                 main.quote_literal(name.name)))
      .value_or("");
}

void MysqlShadow::hold_back_indexes() {
  Connection& main = sessions_.main();
  const std::vector<ResultRow> created = main.query("SHOW CREATE TABLE " + quote(table_.shadow));
  HeldBackIndexes held{plain_indexes(created.at(0).at(1).value_or("")),
                       table_comment(table_.shadow)};
  if (held.indexes.empty()) {
    return;
  }
  std::string comment;
  try {
    comment = held_back_comment(held);
  } catch (const std::exception& error) {
    spdlog::info("the shadow keeps its indexes during the copy ({})", error.what());
    return;
  }
  if (comment.size() > kMaxTableComment) {
    spdlog::info(
        "the shadow keeps its indexes during the copy: their definitions do not fit in the "
        "table comment that records them");
    return;
  }
  main.execute(drop_indexes_sql(table_.shadow, held.indexes, main.quote_literal(comment)));
}

void MysqlShadow::build_held_back_indexes() {
  // Read again: after a lost session the build may have committed (the ALTER is atomic).
  read_held_back_indexes();
  if (table_.held_back_indexes.empty()) {
    return;
  }
  Connection& main = sessions_.main();
  const std::size_t count = table_.held_back_indexes.size();
  const auto started = std::chrono::steady_clock::now();
  try {
    main.execute(add_indexes_sql(table_.shadow, table_.held_back_indexes,
                                 main.quote_literal(table_.shadow_comment)));
  } catch (const ServerError& error) {
    // A build on a session lost meanwhile may have gone on in the server and committed.
    read_held_back_indexes();
    if (!has_code(error, ER_DUP_KEYNAME) || !table_.held_back_indexes.empty()) {
      throw;
    }
  }
  spdlog::info("built the shadow table's {} secondary indexes in {} ms, in one sorted pass", count,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  table_.held_back_indexes.clear();
}

void MysqlShadow::read_held_back_indexes() {
  const std::optional<HeldBackIndexes> held = parse_held_back_comment(table_comment(table_.shadow));
  table_.held_back_indexes = held ? held->indexes : std::vector<std::string>{};
  table_.shadow_comment = held ? held->comment : "";
}

void MysqlShadow::create_shadow(bool hold_back) {
  for (const std::string& statement : plan_.shadow_ddl) {
    try {
      sessions_.main().execute(statement);
    } catch (const ServerError& error) {
      drop_shadow();
      throw Error(ExitCode::usage,
                  std::string("the server refused the ALTER on the shadow table: ") + error.what());
    }
  }
  try {
    if (hold_back) {
      hold_back_indexes();
    }
    attach_shadow();
  } catch (const Error&) {
    drop_shadow();
    throw;
  }
}

void MysqlShadow::attach_shadow() {
  Connection& main = sessions_.main();
  table_.shadow_schema = describe_table(main, table_.shadow);
  const TableSchema& shadow = table_.shadow_schema;
  for (std::size_t column : table_.mapped_columns) {
    const std::string& name = table_.source.columns[column].name;
    std::optional<std::size_t> target = shadow.find(name);
    if (!target || shadow.columns[*target].generated) {
      throw Error(ExitCode::usage, "the ALTER turns column " + quote(name) +
                                       " into a generated column or removes it in a way sluice "
                                       "did not recognise; drop it explicitly with DROP COLUMN");
    }
  }
  std::vector<std::string> source_key;
  std::vector<std::string> shadow_key;
  for (std::size_t column : table_.source.key_columns) {
    source_key.push_back(table_.source.columns[column].name);
  }
  for (std::size_t column : shadow.key_columns) {
    shadow_key.push_back(shadow.columns[column].name);
  }
  if (source_key != shadow_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER changes the key the copy walks; sluice does not change it online yet");
  }
  table_.added_unique_keys.clear();
  const std::map<std::string, UniqueKey> source_keys = unique_keys(main, table_.source.name);
  for (const auto& [name, key] : unique_keys(main, table_.shadow)) {
    if (std::none_of(source_keys.begin(), source_keys.end(), [&](const auto& existing) {
          return existing.second.columns == key.columns;
        })) {
      table_.added_unique_keys.push_back(key.columns);
    }
  }
  fill_statement_time_defaults(main);
  read_held_back_indexes();
  sessions_.open_apply();
  if (table_.held_back_indexes.empty()) {
    spdlog::info("shadow table {} ready", quote(table_.shadow));
  } else {
    spdlog::info("shadow table {} ready, without its {} secondary indexes, built after the copy",
                 quote(table_.shadow), table_.held_back_indexes.size());
  }
}

void MysqlShadow::fill_statement_time_defaults(Connection& main) {
  table_.filled.clear();
  for (const ResultRow& column : main.query(column_defaults_sql(
           main.quote_literal(table_.shadow.schema), main.quote_literal(table_.shadow.name)))) {
    const std::string name = column[0].value_or("");
    if (table_.source.find(name) || !is_statement_time_default(column[1].value_or(""))) {
      continue;
    }
    // A resumed run reads back the value the rows copied so far have.
    std::vector<ResultRow> value = main.query(any_value_sql(table_.shadow, name));
    if (value.empty()) {
      value = main.query(evaluate_sql(column[1].value_or("")));
    }
    const std::optional<std::string>& text = value.at(0).at(0);
    table_.filled.push_back({name, text ? main.quote_literal(*text) : "NULL"});
    spdlog::info(
        "existing rows get one value of the new column {}'s default, as the server's own "
        "ALTER gives them",
        quote(name));
  }
}

void MysqlShadow::drop_shadow() {
  if (!reverting_old_table_.empty()) {
    // A revert's shadow is the old table: it is given its name back, never dropped.
    restore({table_.shadow.schema, reverting_old_table_});
    return;
  }
  sessions_.main().execute(drop_table_sql(table_.shadow, true));
}

namespace {

std::string column_list(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ", ") + quote(name);
  }
  return text;
}

// The names of `table`'s stored columns that `other` lacks.
std::vector<std::string> columns_missing_from(const TableSchema& table, const TableSchema& other) {
  std::vector<std::string> missing;
  for (const ColumnInfo& column : table.columns) {
    if (!column.generated && !other.find(column.name)) {
      missing.push_back(column.name);
    }
  }
  return missing;
}

}  // namespace

ddl::AlterAnalysis MysqlShadow::revert_analysis(const ddl::QualifiedName& table) {
  Connection& main = sessions_.main();
  const TableSchema source = describe_table(main, table);
  const TableSchema old = describe_table(main, shadow_name(table));
  ddl::AlterAnalysis analysis;
  for (const ColumnInfo& column : source.columns) {
    if (!old.find(column.name)) {
      analysis.dropped_columns.push_back(column.name);
    }
  }
  analysis.added_columns = columns_missing_from(old, source);
  return analysis;
}

std::vector<std::string> MysqlShadow::revert_losses(const std::string& table,
                                                    const std::string& old_table) {
  const ddl::QualifiedName name = resolve_table_name(sessions_.dsn(), table);
  return losses_between(name, {name.schema, old_table});
}

std::vector<std::string> MysqlShadow::swap_revert_losses() {
  return losses_between(table_.shadow, plan_.source.name);
}

std::vector<std::string> MysqlShadow::losses_between(const ddl::QualifiedName& name,
                                                     const ddl::QualifiedName& old) {
  Connection& main = sessions_.main();
  const TableSchema source = describe_table(main, name);
  const TableSchema kept = describe_table(main, old);
  std::vector<std::string> losses;
  if (const auto added = columns_missing_from(source, kept); !added.empty()) {
    losses.push_back("the values of " + column_list(added) +
                     ", which the old table lacks, would be lost");
  }
  if (const auto dropped = columns_missing_from(kept, source); !dropped.empty()) {
    losses.push_back("rows written since the cut-over would get the default of " +
                     column_list(dropped) + ", which the migration dropped");
  }
  const std::map<std::string, UniqueKey> source_keys = unique_keys(main, name);
  for (const auto& [key_name, key] : unique_keys(main, old)) {
    if (std::none_of(source_keys.begin(), source_keys.end(),
                     [&](const auto& other) { return other.second.columns == key.columns; })) {
      losses.push_back(
          "rows written since the cut-over that repeat a value of the old table's "
          "UNIQUE key " +
          quote(key_name) + " would be discarded");
    }
  }
  return losses;
}

void MysqlShadow::adopt_old_table(const std::string& table, const std::string& old_table) {
  const ddl::QualifiedName name = resolve_table_name(sessions_.dsn(), table);
  const ddl::QualifiedName old{name.schema, old_table};
  const ddl::QualifiedName shadow = shadow_name(name);
  const bool has_old = table_exists(old);
  const bool has_shadow = table_exists(shadow);
  if (has_shadow && !has_old) {
    return;  // adopted by the run being resumed
  }
  if (!has_old) {
    throw Error(ExitCode::preflight_failed,
                "the old table " + quote(old) +
                    " is gone (sluice contract or --drop-old-table drops it), so there is nothing "
                    "to revert to");
  }
  if (has_shadow) {
    throw Error(ExitCode::preflight_failed, quote(shadow) +
                                                " exists, left by a crashed run; run sluice "
                                                "cleanup --table " +
                                                table + ", then revert again");
  }
  // The shadow's name sorts after the table's, which the cut-over's RENAME relies on (see
  // mysql_shadow_sql.h); the kept old table's does not.
  sessions_.main().execute(rename_table_sql(old, shadow));
  spdlog::info("the old table {} is the revert's shadow table {} until the swap", quote(old),
               quote(shadow));
}

bool MysqlShadow::restore_old_table(const std::string& table, const std::string& old_table) {
  const ddl::QualifiedName name = resolve_table_name(sessions_.dsn(), table);
  table_.shadow = shadow_name(name);
  return restore({name.schema, old_table});
}

bool MysqlShadow::restore(const ddl::QualifiedName& old) {
  if (!table_exists(table_.shadow) || table_exists(old)) {
    return false;
  }
  sessions_.main().execute(rename_table_sql(table_.shadow, old));
  spdlog::info("the old table is {} again", quote(old));
  return true;
}

void MysqlShadow::drop_old_table() {
  sessions_.main().execute(drop_table_sql(table_.old));
}

std::vector<std::string> MysqlShadow::cleanup(const std::string& table) {
  // Only names derived from the table are ever dropped, and the old-table name only when it
  // carries the sentry's comment: an old table kept after a successful swap stays.
  const ddl::QualifiedName name = resolve_table_name(sessions_.dsn(), table);
  std::vector<std::string> dropped;
  const ddl::QualifiedName shadow = shadow_name(name);
  if (table_exists(shadow)) {
    sessions_.main().execute(drop_table_sql(shadow));
    dropped.push_back(quote(shadow));
  }
  const ddl::QualifiedName sentry = swap_name(name);
  if (is_sentry(sentry)) {
    sessions_.main().execute(drop_table_sql(sentry));
    dropped.push_back(quote(sentry));
  }
  return dropped;
}

}  // namespace sluice::mysql

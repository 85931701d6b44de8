#include "src/postgres/pg_column_backend.h"

#include <spdlog/spdlog.h>

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/lock_retry.h"
#include "src/postgres/pg_column_ddl.h"
#include "src/postgres/pg_column_sql.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::postgres, name);
}

std::string qualified(const ddl::QualifiedName& table) {
  return ddl::quote_qualified(ddl::Dialect::postgres, table);
}

// The columns of table $1.$2: name, type, COLLATE clause when not the type's default,
// nullable, default expression.
constexpr const char* kColumnsOf =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
    "CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
    "THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END, "
    "NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass "
    "AND a.attnum > 0 AND NOT a.attisdropped";

}  // namespace

PgColumnBackend::PgColumnBackend(const Dsn& dsn, const std::optional<std::string>& password)
    : connection_(std::make_unique<Connection>(dsn, password)) {}

const ColumnDdl& PgColumnBackend::ddl() const {
  return pg_column_ddl();
}

std::vector<ResultRow> PgColumnBackend::select(const std::string& sql, const Params& params) {
  return connection_->query_params(sql, params);
}

ddl::QualifiedName PgColumnBackend::resolve_table(const std::string& table) {
  ddl::QualifiedName name;
  try {
    name = ddl::parse_qualified_name(ddl::Dialect::postgres, table, "public");
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid table name: ") + error.what());
  }
  if (!connection_->query_value(
          "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
          "n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
          {name.schema, name.name})) {
    throw Error(ExitCode::not_found,
                "table " + qualified(name) + " does not exist; check the name and the schema");
  }
  return name;
}

std::optional<ColumnFacts> PgColumnBackend::column(const ddl::QualifiedName& table,
                                                   const std::string& column) {
  const std::vector<ResultRow> rows = connection_->query(
      std::string(kColumnsOf) + " AND a.attname = $3", {table.schema, table.name, column});
  if (rows.empty()) {
    return std::nullopt;
  }
  const ResultRow& row = rows.front();
  ColumnFacts facts;
  facts.type = row[1].value_or("") + row[2].value_or("");
  facts.nullable = row[3].value_or("t") == "t";
  facts.default_sql = row[4];
  return facts;
}

std::vector<std::string> PgColumnBackend::key_columns(const ddl::QualifiedName& table) {
  std::vector<std::string> names;
  for (const ResultRow& row : connection_->query(
           "SELECT a.attname FROM pg_index i "
           "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) "
           "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
           "WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND "
           "i.indisprimary ORDER BY k.ord",
           {table.schema, table.name})) {
    names.push_back(row[0].value_or(""));
  }
  if (names.empty()) {
    throw Error(ExitCode::preflight_failed, "table " + qualified(table) +
                                                " has no primary key for the backfill to walk; "
                                                "add one first");
  }
  return names;
}

std::optional<PgColumnBackend::IndexFacts> PgColumnBackend::index_named(
    const ddl::QualifiedName& table, const Step& step) {
  std::vector<std::optional<std::string>> columns(step.columns.begin(), step.columns.end());
  const std::vector<ResultRow> rows = connection_->query_params(
      index_named_sql(), {table.schema, step.object, array_literal(columns)});
  if (rows.empty()) {
    // Index names share one namespace per schema with tables, views and sequences.
    const std::vector<ResultRow> holder =
        connection_->query_params(relation_named_sql(), {table.schema, step.object});
    if (!holder.empty() && step.kind == StepKind::create_index) {
      throw Error(ExitCode::preflight_failed, "the name " + quote(step.object) +
                                                  " is taken in schema " + quote(table.schema) +
                                                  " by " + holder[0][1].value_or("") +
                                                  " (not an index); choose another index-name");
    }
    return std::nullopt;
  }
  const ResultRow& row = rows.front();
  IndexFacts facts;
  facts.on_table = row[0].value_or("") == table.schema && row[1].value_or("") == table.name;
  facts.same_keys =
      row[4].value_or("false") == "true" && (row[2].value_or("false") == "true") == step.unique;
  facts.valid = row[3].value_or("false") == "true";
  facts.definition = row[5].value_or("");
  if (step.kind == StepKind::create_index && facts.on_table && !facts.same_keys && !facts.valid) {
    throw Error(ExitCode::preflight_failed,
                "an INVALID index " + quote(step.object) + " on other keys (" + facts.definition +
                    "), left by a failed CREATE INDEX CONCURRENTLY, holds the name on " +
                    qualified(table) + "; drop it (DROP INDEX CONCURRENTLY " +
                    qualified(ddl::QualifiedName{table.schema, step.object}) +
                    ") or choose another index-name");
  }
  if (step.kind == StepKind::create_index && (!facts.on_table || !facts.same_keys)) {
    throw Error(ExitCode::preflight_failed,
                "the index name " + quote(step.object) + " is taken in schema " +
                    quote(table.schema) + " by another index (" + facts.definition +
                    "; PostgreSQL index names are unique per schema), so " + qualified(table) +
                    " would not get its index; choose another index-name");
  }
  return facts;
}

std::optional<PgColumnBackend::CheckFacts> PgColumnBackend::check_named(
    const ddl::QualifiedName& table, const Step& step) {
  const std::vector<ResultRow> rows = connection_->query_params(
      not_null_check_sql(),
      {table.schema, table.name, step.object, step.columns.empty() ? "" : step.columns.front()});
  if (rows.empty()) {
    return std::nullopt;
  }
  const ResultRow& row = rows.front();
  if (step.kind == StepKind::add_check && row[1].value_or("false") != "true") {
    throw Error(ExitCode::preflight_failed,
                "table " + qualified(table) + " has a constraint " + quote(step.object) + " (" +
                    row[2].value_or("") + ") that is not sluice's CHECK (" +
                    quote(step.columns.empty() ? "" : step.columns.front()) +
                    " IS NOT NULL); drop or rename it, then run the command again");
  }
  return CheckFacts{row[0].value_or("false") == "true"};
}

bool PgColumnBackend::object_done(const ddl::QualifiedName& table, const Step& step) {
  switch (step.kind) {
    case StepKind::add_check:
      return check_named(table, step).has_value();
    case StepKind::validate_check: {
      const std::optional<CheckFacts> check = check_named(table, step);
      return check && check->validated;
    }
    case StepKind::drop_check:
      return !check_named(table, step).has_value();
    case StepKind::create_index: {
      // An INVALID index (a CREATE INDEX CONCURRENTLY that failed or was interrupted) is not
      // done: run() drops it and builds it again.
      const std::optional<IndexFacts> index = index_named(table, step);
      return index && index->valid;
    }
    case StepKind::drop_index: {
      // Only this table's index of that name is the migration's to drop.
      const std::optional<IndexFacts> index = index_named(table, step);
      return !index || !index->on_table;
    }
    default:
      return false;
  }
}

void PgColumnBackend::drop_invalid_index(const ddl::QualifiedName& table, const Step& step) {
  const std::optional<IndexFacts> index = index_named(table, step);
  if (index && !index->valid) {
    spdlog::warn("dropping the INVALID index {} that a failed CREATE INDEX CONCURRENTLY left on {}",
                 quote(step.object), qualified(table));
    connection_->execute("DROP INDEX CONCURRENTLY " +
                         qualified(ddl::QualifiedName{table.schema, step.object}));
  }
}

void PgColumnBackend::run(const ddl::QualifiedName& table, const Step& step,
                          std::chrono::milliseconds lock_timeout, int attempts) {
  // lock_timeout bounds the wait for the table's lock, and with it how long the application's
  // statements queue behind this one.
  connection_->execute("SET lock_timeout = " + std::to_string(lock_timeout.count()));
  retry_lock_waits("'" + step.sql + "'", step_lock_policy(lock_timeout, attempts), [&] {
    if (step.kind == StepKind::create_index) {
      drop_invalid_index(table, step);
    }
    try {
      connection_->execute(step.sql);
    } catch (const ServerError& error) {
      if (step.kind == StepKind::create_index) {
        // A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind; only that one,
        // on this table, is dropped (never another table's index of the same name).
        drop_invalid_index(table, step);
      }
      // Only a lock wait is worth another attempt, so a deadlock is no longer a ServerError
      // (retry_lock_waits would retry it); any other refusal reaches the user by its class
      // (explain_server_error), a missing column as exit code 4.
      if (error.kind() == ServerErrorKind::deadlock) {
        throw Error(ExitCode::failure, "'" + step.sql + "' failed: " + error.what());
      }
      throw;
    }
  });
}

void PgColumnBackend::check_expression(const ddl::QualifiedName& table,
                                       const std::string& expression) {
  try {
    connection_->query("SELECT (" + expression + ") FROM " + qualified(table) + " LIMIT 0");
  } catch (const ServerError& error) {
    throw Error(ExitCode::preflight_failed, "the backfill '" + expression +
                                                "' does not evaluate over " + qualified(table) +
                                                ": " + error.what());
  }
}

std::string PgColumnBackend::key_list(const ddl::QualifiedName& table, const std::string& suffix) {
  std::string list;
  for (const std::string& name : key_columns(table)) {
    list += (list.empty() ? "" : ", ") + quote(name) + suffix;
  }
  return list;
}

PgColumnBackend::Predicate PgColumnBackend::range_predicate(const ddl::QualifiedName& table,
                                                            const KeyRange& range) {
  std::vector<std::string> key;
  for (const std::string& name : key_columns(table)) {
    key.push_back(quote(name));
  }
  Predicate predicate{"TRUE", {}};
  for (const auto& [bound, op] : {std::pair{&range.after, ">"}, std::pair{&range.up_to, "<="}}) {
    if (*bound) {
      predicate.sql += " AND " + key_compare(key, op, predicate.params.size() + 1);
      predicate.params.insert(predicate.params.end(), (*bound)->begin(), (*bound)->end());
    }
  }
  return predicate;
}

std::optional<KeyText> PgColumnBackend::batch_end(const ddl::QualifiedName& table,
                                                  const std::optional<KeyText>& after,
                                                  std::uint64_t rows) {
  const Predicate where = range_predicate(table, KeyRange{after, std::nullopt});
  const std::vector<ResultRow> found = select(
      "SELECT " + key_list(table, "::text") + " FROM " + qualified(table) + " WHERE " + where.sql +
          " ORDER BY " + key_list(table, "") + " OFFSET " + std::to_string(rows - 1) + " LIMIT 1",
      where.params);
  if (found.empty()) {
    return std::nullopt;
  }
  return key_text(found.front(), found.front().size());
}

BackfillBatch PgColumnBackend::backfill(const ddl::QualifiedName& table, const BackfillPlan& plan,
                                        const std::string& rows, const KeyRange& range) {
  const Predicate where = range_predicate(table, range);
  std::vector<std::string> key;
  for (const std::string& name : key_columns(table)) {
    key.push_back(quote(name));
  }
  const std::string sql = skip_locked_backfill_sql(qualified(table), quote(plan.column),
                                                   plan.expression, rows, key, where.sql);
  // SKIP LOCKED leaves the rows the application holds; a lock the batch must still wait for (a
  // unique index's entry being written by the application) times out well before the server's
  // deadlock check, so that in a cycle it is sluice's statement that fails, not the
  // application's.
  connection_->execute("SET lock_timeout = " + std::to_string(kBackfillLockTimeout.count()));
  return retry_lock_waits(
      "a backfill batch of " + qualified(table), backfill_lock_policy(kBackfillLockTimeout), [&] {
        const std::vector<ResultRow> result = connection_->query_params(sql, where.params);
        return BackfillBatch{std::stoull(result.at(0).at(0).value_or("0")),
                             std::stoull(result.at(0).at(1).value_or("0"))};
      });
}

std::uint64_t PgColumnBackend::count_where(const ddl::QualifiedName& table,
                                           const std::string& condition, const KeyRange& range,
                                           std::size_t samples, std::vector<KeyText>& sample_keys) {
  const Predicate where = range_predicate(table, range);
  return count_with_samples(
      [&](const std::string& sql) { return select(sql, where.params); },
      " FROM " + qualified(table) + " WHERE " + where.sql + " AND (" + condition + ")",
      key_list(table, "::text"), key_list(table, ""), samples, sample_keys);
}

std::vector<std::string> PgColumnBackend::sessions_where(
    const std::string& condition, const std::vector<std::string>& own_sessions) {
  return sessions_matching(*connection_, sessions_sql(own_sessions, condition), condition,
                           "pg_stat_activity");
}

std::vector<ArchivedRow> PgColumnBackend::read_column(const ddl::QualifiedName& table,
                                                      const std::string& column,
                                                      const KeyRange& range) {
  const Predicate where = range_predicate(table, range);
  use_portable_text();
  return select("SELECT " + key_list(table, "::text") + ", " + quote(column) + "::text FROM " +
                    qualified(table) + " WHERE " + where.sql + " ORDER BY " + key_list(table, ""),
                where.params);
}

std::uint64_t PgColumnBackend::write_column(const ddl::QualifiedName& table,
                                            const std::string& column,
                                            const std::vector<std::string>& key,
                                            const std::vector<ArchivedRow>& rows) {
  std::string where;
  for (std::size_t i = 0; i < key.size(); ++i) {
    where += (where.empty() ? "" : " AND ") + quote(key[i]) + " = $" + std::to_string(i + 2);
  }
  const std::string sql =
      "UPDATE " + qualified(table) + " SET " + quote(column) + " = $1 WHERE " + where;
  use_portable_text();
  std::uint64_t changed = 0;
  Transaction transaction(*connection_);
  for (const ArchivedRow& row : rows) {
    Params params{row.at(key.size())};
    params.insert(params.end(), row.begin(), row.begin() + static_cast<long>(key.size()));
    std::uint64_t affected = 0;
    connection_->query_params(sql, params, &affected);
    changed += affected;
  }
  transaction.commit();
  return changed;
}

void PgColumnBackend::use_portable_text() {
  connection_->execute(
      "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; "
      "SET bytea_output = 'hex'; SET TimeZone = 'UTC'");
}

bool PgColumnBackend::table_exists(const ddl::QualifiedName& table) {
  return relation_exists(*connection_, table);
}

TableDefinition PgColumnBackend::table_definition(const ddl::QualifiedName& table) {
  TableDefinition definition;
  definition.key = key_columns(table);
  std::string body;
  for (const ResultRow& row : connection_->query(std::string(kColumnsOf) + " ORDER BY a.attnum",
                                                 {table.schema, table.name})) {
    ArchivedColumn column{row[0].value_or(""), row[1].value_or("") + row[2].value_or(""),
                          row[3].value_or("t") == "t", false};
    body += "  " + quote(column.name) + " " + column.type + (column.nullable ? "" : " NOT NULL") +
            ",\n";
    definition.columns.push_back(std::move(column));
  }
  std::string key;
  for (const std::string& name : definition.key) {
    key += (key.empty() ? "" : ", ") + quote(name);
  }
  definition.definition = "(\n" + body + "  PRIMARY KEY (" + key + ")\n)";
  return definition;
}

std::vector<ArchivedRow> PgColumnBackend::read_rows(const ddl::QualifiedName& table,
                                                    const KeyRange& range) {
  std::string columns;
  for (const ResultRow& row : connection_->query(std::string(kColumnsOf) + " ORDER BY a.attnum",
                                                 {table.schema, table.name})) {
    columns += (columns.empty() ? "" : ", ") + quote(row[0].value_or("")) + "::text";
  }
  const Predicate where = range_predicate(table, range);
  use_portable_text();
  return select("SELECT " + columns + " FROM " + qualified(table) + " WHERE " + where.sql +
                    " ORDER BY " + key_list(table, ""),
                where.params);
}

void PgColumnBackend::create_table(const ddl::QualifiedName& table, const std::string& definition) {
  connection_->execute("CREATE TABLE " + qualified(table) + " " + definition);
}

void PgColumnBackend::drop_table(const ddl::QualifiedName& table) {
  connection_->execute("DROP TABLE IF EXISTS " + qualified(table));
}

void PgColumnBackend::insert_rows(const ddl::QualifiedName& table,
                                  const std::vector<ArchivedColumn>& columns,
                                  const std::vector<ArchivedRow>& rows) {
  std::string names;
  for (const ArchivedColumn& column : columns) {
    names += (names.empty() ? "" : ", ") + quote(column.name);
  }
  // Untyped parameters take the target columns' types, so each text form is read as its type.
  std::string values;
  Params params;
  for (const ArchivedRow& row : rows) {
    std::string tuple;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      params.push_back(row.at(i));
      tuple += (tuple.empty() ? "$" : ", $") + std::to_string(params.size());
    }
    values += (values.empty() ? "(" : ", (") + tuple + ")";
  }
  use_portable_text();
  connection_->query_params("INSERT INTO " + qualified(table) + " (" + names + ") VALUES " + values,
                            params);
}

}  // namespace sluice::postgres

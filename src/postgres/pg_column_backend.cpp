#include "src/postgres/pg_column_backend.h"

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/lock_retry.h"
#include "src/postgres/pg_column_ddl.h"
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

KeyText key_text(const ResultRow& row, std::size_t columns) {
  KeyText key;
  for (std::size_t i = 0; i < columns; ++i) {
    key.push_back(row[i].value_or(""));
  }
  return key;
}

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

std::optional<bool> PgColumnBackend::index_valid(const ddl::QualifiedName& table,
                                                 const std::string& index) {
  const std::optional<std::string> valid = connection_->query_value(
      "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
      {table.schema, index});
  if (!valid) {
    return std::nullopt;
  }
  return *valid == "t";
}

std::optional<bool> PgColumnBackend::check_validated(const ddl::QualifiedName& table,
                                                     const std::string& constraint) {
  const std::optional<std::string> validated = connection_->query_value(
      "SELECT convalidated FROM pg_constraint WHERE conrelid = (quote_ident($1) || '.' || "
      "quote_ident($2))::regclass AND conname = $3",
      {table.schema, table.name, constraint});
  if (!validated) {
    return std::nullopt;
  }
  return *validated == "t";
}

bool PgColumnBackend::done(const ddl::QualifiedName& table, const Step& step) {
  switch (step.kind) {
    case StepKind::add_column:
      return column(table, step.object).has_value();
    case StepKind::drop_column:
      return !column(table, step.object).has_value();
    case StepKind::drop_not_null: {
      const std::optional<ColumnFacts> facts = column(table, step.object);
      return !facts || facts->nullable;
    }
    case StepKind::set_not_null: {
      const std::optional<ColumnFacts> facts = column(table, step.object);
      return facts && !facts->nullable;
    }
    case StepKind::add_check:
      return check_validated(table, step.object).has_value();
    case StepKind::validate_check:
      return check_validated(table, step.object).value_or(false);
    case StepKind::drop_check:
      return !check_validated(table, step.object).has_value();
    case StepKind::create_index:
      return index_valid(table, step.object).value_or(false);
    case StepKind::drop_index:
      return !index_valid(table, step.object).has_value();
    default:
      return false;
  }
}

void PgColumnBackend::run(const ddl::QualifiedName& table, const Step& step,
                          std::chrono::milliseconds lock_timeout, int attempts) {
  // lock_timeout bounds the wait for the table's lock, and with it how long the application's
  // statements queue behind this one.
  connection_->execute("SET lock_timeout = " + std::to_string(lock_timeout.count()));
  LockRetryPolicy policy;
  policy.timeout = lock_timeout;
  policy.attempts = attempts;
  policy.first_pause = std::chrono::milliseconds(500);
  retry_lock_waits("'" + step.sql + "'", policy, [&] {
    try {
      connection_->execute(step.sql);
    } catch (const ServerError& error) {
      if (step.kind == StepKind::create_index) {
        // A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind.
        connection_->execute("DROP INDEX CONCURRENTLY IF EXISTS " +
                             qualified(ddl::QualifiedName{table.schema, step.object}));
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

std::uint64_t PgColumnBackend::backfill(const ddl::QualifiedName& table, const BackfillPlan& plan,
                                        const KeyRange& range) {
  const Predicate where = range_predicate(table, range);
  const std::string column = quote(plan.column);
  std::uint64_t changed = 0;
  connection_->query_params("UPDATE " + qualified(table) + " SET " + column + " = (" +
                                plan.expression + ") WHERE " + where.sql + " AND " + column +
                                " IS NULL AND (" + plan.expression + ") IS NOT NULL",
                            where.params, &changed);
  return changed;
}

std::uint64_t PgColumnBackend::count_where(const ddl::QualifiedName& table,
                                           const std::string& condition, const KeyRange& range,
                                           std::size_t samples, std::vector<KeyText>& sample_keys) {
  const Predicate where = range_predicate(table, range);
  const std::string from =
      " FROM " + qualified(table) + " WHERE " + where.sql + " AND (" + condition + ")";
  const std::vector<ResultRow> count = select("SELECT count(*)" + from, where.params);
  const std::uint64_t rows = std::stoull(count.at(0).at(0).value_or("0"));
  if (rows > 0 && samples > 0) {
    for (const ResultRow& row :
         select("SELECT " + key_list(table, "::text") + from + " ORDER BY " + key_list(table, "") +
                    " LIMIT " + std::to_string(samples),
                where.params)) {
      sample_keys.push_back(key_text(row, row.size()));
    }
  }
  return rows;
}

std::vector<std::string> PgColumnBackend::sessions_where(
    const std::string& condition, const std::vector<std::string>& own_sessions) {
  std::string own = "pg_backend_pid()";
  for (const std::string& id : own_sessions) {
    own += ", " + std::to_string(std::stoll(id));
  }
  std::vector<ResultRow> rows;
  try {
    rows = connection_->query(
        "SELECT pid::text, coalesce(usename::text, ''), coalesce(client_addr::text, 'local'), "
        "application_name FROM pg_stat_activity WHERE pid NOT IN (" +
        own +
        ") AND "
        "backend_type = 'client backend' AND (" +
        condition + ")");
  } catch (const ServerError& error) {
    throw Error(ExitCode::usage, "the old-clients condition '" + condition +
                                     "' is not valid over pg_stat_activity: " + error.what());
  }
  std::vector<std::string> sessions;
  for (const ResultRow& row : rows) {
    sessions.push_back(row[0].value_or("") + " " + row[1].value_or("") + "@" + row[2].value_or("") +
                       " " + row[3].value_or(""));
  }
  return sessions;
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

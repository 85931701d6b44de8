#include "src/mysql/mysql_column_backend.h"

#include <mysqld_error.h>

#include "src/error.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_column_ddl.h"
#include "src/mysql/mysql_schema.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

replication::Row key_row(const TableSchema& schema, const KeyText& key) {
  replication::Row row;
  for (std::size_t i = 0; i < schema.key_columns.size(); ++i) {
    row.push_back(key_value_from_text(schema.columns[schema.key_columns[i]], key.at(i)));
  }
  return row;
}

// A SELECT expression giving the hex of a column's bytes as the server prints them, which
// UNHEX() turns back into the same value on insert (strings, numbers, temporal values, BIT and
// binary data alike). FLOAT prints with 6 digits, so it is widened to DOUBLE, which prints
// enough digits to round back to the same FLOAT.
std::string archive_value(const ColumnInfo& column) {
  const std::string value = column.data_type == "float"
                                ? "CAST(" + quote(column.name) + " AS DOUBLE)"
                                : quote(column.name);
  return "HEX(CAST(" + value + " AS BINARY))";
}

// An archived value as SQL: UNHEX('…') or NULL. Throws for a value that is not hex.
std::string unhex(const std::optional<std::string>& value) {
  if (!value) {
    return "NULL";
  }
  if (value->find_first_not_of("0123456789ABCDEFabcdef") != std::string::npos) {
    throw Error(ExitCode::usage, "the archive holds a value that is not hex; it is damaged");
  }
  return "UNHEX('" + *value + "')";
}

KeyText key_text(const ResultRow& row, std::size_t columns) {
  KeyText key;
  for (std::size_t i = 0; i < columns; ++i) {
    key.push_back(row[i].value_or(""));
  }
  return key;
}

}  // namespace

MysqlColumnBackend::MysqlColumnBackend(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), connection_(std::make_unique<Connection>(dsn, password)) {}

const ColumnDdl& MysqlColumnBackend::ddl() const {
  return mysql_column_ddl();
}

ddl::QualifiedName MysqlColumnBackend::resolve_table(const std::string& table) {
  const ddl::QualifiedName name = resolve_table_name(dsn_, table);
  schema(name);  // throws not_found
  return name;
}

const TableSchema& MysqlColumnBackend::schema(const ddl::QualifiedName& table) {
  const std::string name = quote(table);
  auto found = schemas_.find(name);
  if (found == schemas_.end()) {
    found = schemas_.emplace(name, describe_table(*connection_, table)).first;
  }
  return found->second;
}

std::optional<ColumnFacts> MysqlColumnBackend::column(const ddl::QualifiedName& table,
                                                      const std::string& column) {
  const std::vector<ResultRow> rows = connection_->query(
      "SELECT COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE, COLUMN_DEFAULT FROM "
      "information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
      connection_->quote_literal(table.schema) +
      " AND TABLE_NAME = " + connection_->quote_literal(table.name) +
      " AND COLUMN_NAME = " + connection_->quote_literal(column));
  if (rows.empty()) {
    return std::nullopt;
  }
  const ResultRow& row = rows.front();
  ColumnFacts facts;
  facts.type = row[0].value_or("");
  if (row[1] && row[2]) {
    facts.type += " CHARACTER SET " + *row[1] + " COLLATE " + *row[2];
  }
  facts.nullable = row[3].value_or("YES") == "YES";
  // MariaDB prints the default as SQL: 'text', 42, current_timestamp(), or NULL.
  if (row[4] && *row[4] != "NULL") {
    facts.default_sql = *row[4];
  }
  return facts;
}

std::vector<std::string> MysqlColumnBackend::key_columns(const ddl::QualifiedName& table) {
  const TableSchema& described = schema(table);
  if (described.key_columns.empty()) {
    throw Error(ExitCode::preflight_failed,
                "table " + quote(table) +
                    " has no PRIMARY KEY or NOT NULL UNIQUE key for the backfill to walk; add "
                    "one first");
  }
  std::vector<std::string> names;
  for (std::size_t column : described.key_columns) {
    names.push_back(described.columns[column].name);
  }
  return names;
}

bool MysqlColumnBackend::index_exists(const ddl::QualifiedName& table, const std::string& index) {
  return connection_
      ->query_value("SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = " +
                    connection_->quote_literal(table.schema) +
                    " AND TABLE_NAME = " + connection_->quote_literal(table.name) +
                    " AND INDEX_NAME = " + connection_->quote_literal(index) + " LIMIT 1")
      .has_value();
}

bool MysqlColumnBackend::done(const ddl::QualifiedName& table, const Step& step) {
  switch (step.kind) {
    case StepKind::add_column:
      return column(table, step.object).has_value();
    case StepKind::drop_column:
      return !column(table, step.object).has_value();
    case StepKind::drop_not_null: {
      const std::optional<ColumnFacts> facts = column(table, step.object);
      return !facts || facts->nullable;
    }
    case StepKind::set_not_null:
    case StepKind::online_rebuild: {
      const std::optional<ColumnFacts> facts = column(table, step.object);
      return facts && !facts->nullable;
    }
    case StepKind::create_index:
      return index_exists(table, step.object);
    case StepKind::drop_index:
      return !index_exists(table, step.object);
    default:
      return false;
  }
}

void MysqlColumnBackend::run(const ddl::QualifiedName& /*table*/, const Step& step,
                             std::chrono::milliseconds lock_timeout, int attempts) {
  // lock_wait_timeout bounds the wait for the table's metadata lock, and with it how long the
  // application's statements queue behind this one.
  connection_->execute(lock_wait_timeout_sql(lock_wait_seconds(lock_timeout)));
  LockRetryPolicy policy;
  policy.timeout = lock_timeout;
  policy.attempts = attempts;
  policy.first_pause = std::chrono::milliseconds(500);
  retry_lock_waits("'" + step.sql + "'", policy, [&] {
    try {
      connection_->execute(step.sql);
    } catch (const ServerError& error) {
      if (has_code(error, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON) ||
          has_code(error, ER_ALTER_OPERATION_NOT_SUPPORTED)) {
        throw Error(ExitCode::preflight_failed,
                    "the server cannot run '" + step.sql + "' without blocking writes (" +
                        error.what() + "); use operation rebuild, which copies the table online");
      }
      // Lock conflicts are retried; any other refusal reaches the user by its class
      // (explain_server_error), a missing column as exit code 4.
      throw;
    }
    schemas_.clear();
  });
}

void MysqlColumnBackend::check_expression(const ddl::QualifiedName& table,
                                          const std::string& expression) {
  try {
    connection_->query("SELECT (" + expression + ") FROM " + quote(table) + " LIMIT 0");
  } catch (const ServerError& error) {
    throw Error(ExitCode::preflight_failed, "the backfill '" + expression +
                                                "' does not evaluate over " + quote(table) + ": " +
                                                error.what());
  }
}

std::string MysqlColumnBackend::key_select(const TableSchema& schema) {
  std::string select;
  for (std::size_t column : schema.key_columns) {
    select += (select.empty() ? "" : ", ") + key_select_expression(schema.columns[column]);
  }
  return select;
}

std::string MysqlColumnBackend::key_order(const TableSchema& schema) {
  std::string order;
  for (std::size_t column : schema.key_columns) {
    order += (order.empty() ? "" : ", ") + quote(schema.columns[column].name);
  }
  return order;
}

std::string MysqlColumnBackend::range_predicate(const TableSchema& schema, const KeyRange& range) {
  std::string predicate = "TRUE";
  if (range.after) {
    predicate += " AND (" + key_after(schema, key_row(schema, *range.after)) + ")";
  }
  if (range.up_to) {
    predicate += " AND (" + key_up_to(schema, key_row(schema, *range.up_to)) + ")";
  }
  return predicate;
}

std::optional<KeyText> MysqlColumnBackend::batch_end(const ddl::QualifiedName& table,
                                                     const std::optional<KeyText>& after,
                                                     std::uint64_t rows) {
  const TableSchema& described = schema(table);
  key_columns(table);
  const std::vector<ResultRow> found =
      connection_->query("SELECT " + key_select(described) + " FROM " + quote(table) + " WHERE " +
                         range_predicate(described, KeyRange{after, std::nullopt}) + " ORDER BY " +
                         key_order(described) + " LIMIT 1 OFFSET " + std::to_string(rows - 1));
  if (found.empty()) {
    return std::nullopt;
  }
  return key_text(found.front(), described.key_columns.size());
}

std::uint64_t MysqlColumnBackend::backfill(const ddl::QualifiedName& table,
                                           const BackfillPlan& plan, const KeyRange& range) {
  const TableSchema& described = schema(table);
  const std::string column = quote(plan.column);
  return connection_->execute("UPDATE " + quote(table) + " SET " + column + " = (" +
                              plan.expression + ") WHERE " + range_predicate(described, range) +
                              " AND " + column + " IS NULL AND (" + plan.expression +
                              ") IS NOT NULL");
}

std::uint64_t MysqlColumnBackend::count_where(const ddl::QualifiedName& table,
                                              const std::string& condition, const KeyRange& range,
                                              std::size_t samples,
                                              std::vector<KeyText>& sample_keys) {
  const TableSchema& described = schema(table);
  const std::string where = " FROM " + quote(table) + " WHERE " +
                            range_predicate(described, range) + " AND (" + condition + ")";
  const std::uint64_t count =
      std::stoull(connection_->query_value("SELECT COUNT(*)" + where).value_or("0"));
  if (count > 0 && samples > 0) {
    for (const ResultRow& row :
         connection_->query("SELECT " + key_select(described) + where + " ORDER BY " +
                            key_order(described) + " LIMIT " + std::to_string(samples))) {
      sample_keys.push_back(key_text(row, described.key_columns.size()));
    }
  }
  return count;
}

std::vector<std::string> MysqlColumnBackend::sessions_where(
    const std::string& condition, const std::vector<std::string>& own_sessions) {
  std::string own = "CONNECTION_ID()";
  for (const std::string& id : own_sessions) {
    own += ", " + std::to_string(std::stoull(id));
  }
  std::vector<ResultRow> rows;
  try {
    rows = connection_->query(
        "SELECT ID, USER, HOST, COALESCE(DB, '') FROM information_schema.PROCESSLIST WHERE ID NOT "
        "IN "
        "(" +
        own + ") AND COMMAND <> 'Daemon' AND (" + condition + ")");
  } catch (const ServerError& error) {
    throw Error(ExitCode::usage,
                "the old-clients condition '" + condition +
                    "' is not valid over information_schema.PROCESSLIST: " + error.what());
  }
  std::vector<std::string> sessions;
  for (const ResultRow& row : rows) {
    sessions.push_back(row[0].value_or("") + " " + row[1].value_or("") + "@" + row[2].value_or("") +
                       " " + row[3].value_or(""));
  }
  return sessions;
}

std::vector<ArchivedRow> MysqlColumnBackend::read_column(const ddl::QualifiedName& table,
                                                         const std::string& column,
                                                         const KeyRange& range) {
  const TableSchema& described = schema(table);
  const std::optional<std::size_t> index = described.find(column);
  if (!index) {
    throw Error(ExitCode::not_found,
                "table " + quote(table) + " has no column " + quote(column) + " to archive");
  }
  use_utc_for_archives();
  std::vector<ArchivedRow> rows;
  for (ResultRow& row : connection_->query(
           "SELECT " + key_select(described) + ", " + archive_value(described.columns[*index]) +
           " FROM " + quote(table) + " WHERE " + range_predicate(described, range) + " ORDER BY " +
           key_order(described))) {
    rows.push_back(std::move(row));
  }
  return rows;
}

std::uint64_t MysqlColumnBackend::write_column(const ddl::QualifiedName& table,
                                               const std::string& column,
                                               const std::vector<std::string>& key,
                                               const std::vector<ArchivedRow>& rows) {
  const TableSchema& described = schema(table);
  std::vector<ColumnInfo> key_info;
  for (const std::string& name : key) {
    const std::optional<std::size_t> index = described.find(name);
    if (!index) {
      throw Error(ExitCode::preflight_failed, "table " + quote(table) + " has no column " +
                                                  quote(name) + " to find the archived rows by");
    }
    key_info.push_back(described.columns[*index]);
  }
  use_utc_for_archives();
  std::uint64_t changed = 0;
  Transaction transaction(*connection_, "START TRANSACTION");
  for (const ArchivedRow& row : rows) {
    std::string where;
    for (std::size_t i = 0; i < key.size(); ++i) {
      where += (where.empty() ? "" : " AND ") + quote(key[i]) + " = " +
               sql_literal(key_value_from_text(key_info[i], row.at(i).value_or("")), key_info[i]);
    }
    changed += connection_->execute("UPDATE " + quote(table) + " SET " + quote(column) + " = " +
                                    unhex(row.at(key.size())) + " WHERE " + where);
  }
  transaction.commit();
  return changed;
}

void MysqlColumnBackend::use_utc_for_archives() {
  connection_->execute("SET SESSION time_zone = '+00:00'");
}

bool MysqlColumnBackend::table_exists(const ddl::QualifiedName& table) {
  return connection_
      ->query_value("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                    connection_->quote_literal(table.schema) +
                    " AND TABLE_NAME = " + connection_->quote_literal(table.name))
      .has_value();
}

TableDefinition MysqlColumnBackend::table_definition(const ddl::QualifiedName& table) {
  const TableSchema& described = schema(table);
  TableDefinition definition;
  for (const ColumnInfo& column : described.columns) {
    definition.columns.push_back(
        {column.name,
         column.column_type + (column.charset.empty() ? "" : " CHARACTER SET " + column.charset),
         column.nullable, column.generated});
  }
  definition.key = key_columns(table);
  const std::vector<ResultRow> created = connection_->query("SHOW CREATE TABLE " + quote(table));
  const std::string text = created.at(0).at(1).value_or("");
  // SHOW CREATE TABLE names the table without its database; what follows the name re-creates
  // it under any name.
  const std::string prefix = "CREATE TABLE " + quote(table.name) + " ";
  if (text.rfind(prefix, 0) != 0) {
    throw Error(ExitCode::failure, "SHOW CREATE TABLE " + quote(table) + " does not start with '" +
                                       prefix + "'; cannot archive it");
  }
  definition.definition = text.substr(prefix.size());
  return definition;
}

std::vector<ArchivedRow> MysqlColumnBackend::read_rows(const ddl::QualifiedName& table,
                                                       const KeyRange& range) {
  const TableSchema& described = schema(table);
  std::string select;
  for (const ColumnInfo& column : described.columns) {
    select += (select.empty() ? "" : ", ") + archive_value(column);
  }
  use_utc_for_archives();
  std::vector<ArchivedRow> rows;
  for (ResultRow& row : connection_->query("SELECT " + select + " FROM " + quote(table) +
                                           " WHERE " + range_predicate(described, range) +
                                           " ORDER BY " + key_order(described))) {
    rows.push_back(std::move(row));
  }
  return rows;
}

void MysqlColumnBackend::create_table(const ddl::QualifiedName& table,
                                      const std::string& definition) {
  connection_->execute("CREATE TABLE " + quote(table) + " " + definition);
  schemas_.clear();
}

void MysqlColumnBackend::drop_table(const ddl::QualifiedName& table) {
  connection_->execute("DROP TABLE IF EXISTS " + quote(table));
  schemas_.clear();
}

void MysqlColumnBackend::insert_rows(const ddl::QualifiedName& table,
                                     const std::vector<ArchivedColumn>& columns,
                                     const std::vector<ArchivedRow>& rows) {
  std::string names;
  for (const ArchivedColumn& column : columns) {
    if (!column.generated) {
      names += (names.empty() ? "" : ", ") + quote(column.name);
    }
  }
  std::string values;
  for (const ArchivedRow& row : rows) {
    std::string tuple;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (!columns[i].generated) {
        tuple += (tuple.empty() ? "" : ", ") + unhex(row.at(i));
      }
    }
    values += (values.empty() ? "(" : ", (") + tuple + ")";
  }
  use_utc_for_archives();
  connection_->execute("INSERT INTO " + quote(table) + " (" + names + ") VALUES " + values);
}

}  // namespace sluice::mysql

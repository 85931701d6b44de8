#include "src/mysql/mysql_column_backend.h"

#include <mysqld_error.h>

#include <algorithm>
#include <cctype>

#include "src/error.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_column_ddl.h"
#include "src/mysql/mysql_column_sql.h"
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

// MySQL column names compare without regard to case.
bool same_name(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
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

bool MysqlColumnBackend::index_exists(const ddl::QualifiedName& table, const Step& step) {
  const std::vector<ResultRow> rows = connection_->query(index_columns_sql(
      connection_->quote_literal(table.schema), connection_->quote_literal(table.name),
      connection_->quote_literal(step.object)));
  if (rows.empty() || step.kind != StepKind::create_index) {
    return !rows.empty();
  }
  // MySQL names indexes per table: an index of that name with other columns, a prefix or
  // another uniqueness is another index, not the migration's.
  bool same = rows.size() == step.columns.size();
  std::string columns;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string name = rows[i][0].value_or("");
    columns +=
        (columns.empty() ? "" : ", ") + quote(name) + (rows[i][2] ? "(" + *rows[i][2] + ")" : "");
    same = same && same_name(name, step.columns[i]) && !rows[i][2] &&
           (rows[i][1].value_or("1") == "0") == step.unique;
  }
  if (!same) {
    throw Error(ExitCode::preflight_failed,
                "table " + quote(table) + " already has an index " + quote(step.object) + " (" +
                    (rows[0][1].value_or("1") == "0" ? "UNIQUE on " : "on ") + columns +
                    ") that is not the migration's; choose another index-name");
  }
  return true;
}

bool MysqlColumnBackend::object_done(const ddl::QualifiedName& table, const Step& step) {
  switch (step.kind) {
    case StepKind::create_index:
      return index_exists(table, step);
    case StepKind::drop_index:
      return !index_exists(table, step);
    default:
      return false;
  }
}

void MysqlColumnBackend::run(const ddl::QualifiedName& /*table*/, const Step& step,
                             std::chrono::milliseconds lock_timeout, int attempts) {
  // lock_wait_timeout bounds the wait for the table's metadata lock, and with it how long the
  // application's statements queue behind this one.
  connection_->execute(lock_wait_timeout_sql(lock_wait_seconds(lock_timeout)));
  retry_lock_waits("'" + step.sql + "'", step_lock_policy(lock_timeout, attempts), [&] {
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

BackfillBatch MysqlColumnBackend::backfill(const ddl::QualifiedName& table,
                                           const BackfillPlan& plan, const std::string& rows,
                                           const KeyRange& range) {
  const TableSchema& described = schema(table);
  key_columns(table);
  const std::string where = range_predicate(described, range) + " AND (" + rows + ")";
  // SKIP LOCKED leaves the rows the application holds. A lock the batch must still wait for
  // (a unique entry another transaction is writing) times out after InnoDB's shortest wait; in
  // a deadlock InnoDB rolls back the transaction that changed fewer rows, which may be the
  // application's, so the batch must never wait on a row at all.
  connection_->execute("SET SESSION innodb_lock_wait_timeout = 1");
  return retry_lock_waits(
      "a backfill batch of " + quote(table), backfill_lock_policy(std::chrono::seconds(1)), [&] {
        Transaction transaction(*connection_, "START TRANSACTION");
        // The rows to write in the transaction's snapshot, which does not wait for locks: those
        // that the locking read below skips are the ones the application holds.
        const std::uint64_t todo = std::stoull(
            connection_->query_value("SELECT COUNT(*) FROM " + quote(table) + " WHERE " + where)
                .value_or("0"));
        std::vector<replication::Row> keys;
        for (const ResultRow& row :
             connection_->query(locked_keys_sql(described, quote(table), where))) {
          keys.push_back(key_row(described, key_text(row, described.key_columns.size())));
        }
        std::uint64_t written = 0;
        for (std::size_t first = 0; first < keys.size(); first += kKeysPerFill) {
          const std::vector<replication::Row> some(
              keys.begin() + static_cast<long>(first),
              keys.begin() + static_cast<long>(std::min(keys.size(), first + kKeysPerFill)));
          written += connection_->execute(
              fill_keys_sql(described, quote(table), quote(plan.column), plan.expression, some));
        }
        transaction.commit();
        return BackfillBatch{written, todo > keys.size() ? todo - keys.size() : 0};
      });
}

std::uint64_t MysqlColumnBackend::count_where(const ddl::QualifiedName& table,
                                              const std::string& condition, const KeyRange& range,
                                              std::size_t samples,
                                              std::vector<KeyText>& sample_keys) {
  const TableSchema& described = schema(table);
  return count_with_samples([&](const std::string& sql) { return connection_->query(sql); },
                            " FROM " + quote(table) + " WHERE " +
                                range_predicate(described, range) + " AND (" + condition + ")",
                            key_select(described), key_order(described), samples, sample_keys);
}

std::vector<std::string> MysqlColumnBackend::sessions_where(
    const std::string& condition, const std::vector<std::string>& own_sessions) {
  return sessions_matching(*connection_, sessions_sql(own_sessions, condition), condition,
                           "information_schema.PROCESSLIST");
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

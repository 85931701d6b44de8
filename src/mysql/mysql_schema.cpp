#include "src/mysql/mysql_schema.h"

#include <map>

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/mysql/mysql_cut_over_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {

ddl::QualifiedName resolve_table_name(const Dsn& dsn, const std::string& table) {
  ddl::QualifiedName name;
  try {
    name = ddl::parse_qualified_name(ddl::Dialect::mysql, table, dsn.database);
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
  if (name.schema.empty()) {
    throw Error(ExitCode::usage,
                "--table names no database; give it as database.table or put the database in "
                "the DSN (mysql://user@host:port/database)");
  }
  return name;
}

std::map<std::string, UniqueKey> unique_keys(Connection& connection,
                                             const ddl::QualifiedName& table) {
  std::vector<ResultRow> rows = connection.query(
      "SELECT s.INDEX_NAME, s.COLUMN_NAME, c.IS_NULLABLE FROM information_schema.STATISTICS s "
      "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND "
      "c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "
      "WHERE s.NON_UNIQUE = 0 AND s.TABLE_SCHEMA = " +
      connection.quote_literal(table.schema) + " AND s.TABLE_NAME = " +
      connection.quote_literal(table.name) + " ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX");
  std::map<std::string, UniqueKey> keys;
  for (const ResultRow& row : rows) {
    UniqueKey& key = keys[row[0].value_or("")];
    key.columns.push_back(row[1].value_or(""));
    key.nullable = key.nullable || row[2].value_or("NO") == "YES";
  }
  return keys;
}

std::optional<ChosenKey> choose_key(Connection& connection, const ddl::QualifiedName& table) {
  const std::map<std::string, UniqueKey> unique_keys = mysql::unique_keys(connection, table);
  if (auto primary = unique_keys.find("PRIMARY"); primary != unique_keys.end()) {
    return ChosenKey{"PRIMARY", primary->second.columns};
  }
  std::optional<ChosenKey> best;
  for (const auto& [name, key] : unique_keys) {
    if (!key.nullable && (!best || key.columns.size() < best->columns.size())) {
      best = ChosenKey{name, key.columns};
    }
  }
  return best;
}

TableSchema describe_table(Connection& connection, const ddl::QualifiedName& table) {
  TableSchema schema;
  schema.name = table;
  std::vector<ResultRow> rows = connection.query(
      "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, COALESCE(CHARACTER_SET_NAME, ''), "
      "IS_NULLABLE, COALESCE(GENERATION_EXPRESSION, '') <> '' FROM information_schema.COLUMNS "
      "WHERE TABLE_SCHEMA = " +
      connection.quote_literal(table.schema) +
      " AND TABLE_NAME = " + connection.quote_literal(table.name) + " ORDER BY ORDINAL_POSITION");
  if (rows.empty()) {
    throw Error(ExitCode::not_found,
                "table " + ddl::quote_qualified(ddl::Dialect::mysql, table) +
                    " does not exist; check --table and the database in the DSN");
  }
  for (const ResultRow& row : rows) {
    schema.columns.push_back(ColumnInfo{
        row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), row[3].value_or(""),
        row[4].value_or("YES") == "YES", row[5].value_or("0") == "1"});
  }
  if (std::optional<ChosenKey> key = choose_key(connection, table)) {
    schema.key_name = key->name;
    for (const std::string& column : key->columns) {
      schema.key_columns.push_back(*schema.find(column));
    }
  }
  return schema;
}

std::string read_definition(Connection& connection, const ddl::QualifiedName& table) {
  const std::vector<ResultRow> created = connection.query("SHOW CREATE TABLE " + quote(table));
  return comparable_definition(created.at(0).at(1).value_or(""));
}

}  // namespace sluice::mysql

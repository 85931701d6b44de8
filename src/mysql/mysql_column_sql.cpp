#include "src/mysql/mysql_column_sql.h"

#include "src/column_backend.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {

std::string locked_keys_sql(const TableSchema& schema, const std::string& table,
                            const std::string& where) {
  std::string select;
  std::string order;
  for (std::size_t column : schema.key_columns) {
    select += (select.empty() ? "" : ", ") + key_select_expression(schema.columns[column]);
    order += (order.empty() ? "" : ", ") + quote(schema.columns[column].name);
  }
  return "SELECT " + select + " FROM " + table + " WHERE " + where + " ORDER BY " + order +
         " FOR UPDATE SKIP LOCKED";
}

std::string fill_keys_sql(const TableSchema& schema, const std::string& table,
                          const std::string& column, const std::string& expression,
                          const std::vector<replication::Row>& keys) {
  // A single column's list is written plainly: MariaDB scans the whole table for a long list of
  // one-element rows, ((1), (2), …), and a scanning UPDATE waits for every row it reads.
  std::string where = key_in(schema, keys);
  if (schema.key_columns.size() == 1) {
    const ColumnInfo& key = schema.columns[schema.key_columns.front()];
    where = quote(key.name) + " IN (";
    for (std::size_t k = 0; k < keys.size(); ++k) {
      where += (k > 0 ? ", " : "") + sql_literal(keys[k].front(), key);
    }
    where += ")";
  }
  return "UPDATE " + table + " SET " + column + " = (" + expression + ") WHERE " + where;
}

std::string index_columns_sql(const std::string& schema_literal, const std::string& table_literal,
                              const std::string& index_literal) {
  return "SELECT COLUMN_NAME, NON_UNIQUE, SUB_PART FROM information_schema.STATISTICS WHERE "
         "TABLE_SCHEMA = " +
         schema_literal + " AND TABLE_NAME = " + table_literal +
         " AND INDEX_NAME = " + index_literal + " ORDER BY SEQ_IN_INDEX";
}

std::string sessions_sql(const std::vector<std::string>& own_sessions,
                         const std::string& condition) {
  const std::string own = session_list("CONNECTION_ID()", own_sessions);
  return "SELECT ID, USER, HOST, COALESCE(DB, '') FROM information_schema.PROCESSLIST WHERE ID "
         "NOT IN (" +
         own + ") AND COMMAND <> 'Daemon' AND (" + condition + ")";
}

}  // namespace sluice::mysql

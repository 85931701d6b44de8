#include "src/mysql/mysql_apply_sql.h"

#include <algorithm>

#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {

using replication::Row;

std::vector<std::string> delete_keys_sql(const MysqlTablePlan& plan, const std::vector<Row>& keys,
                                         std::size_t per_statement) {
  std::vector<std::string> statements;
  for (std::size_t start = 0; start < keys.size(); start += per_statement) {
    const std::size_t end = std::min(keys.size(), start + per_statement);
    const std::vector<Row> batch(keys.begin() + static_cast<std::ptrdiff_t>(start),
                                 keys.begin() + static_cast<std::ptrdiff_t>(end));
    statements.push_back("DELETE FROM " + quote(plan.shadow) + " WHERE " +
                         key_in(plan.source, batch));
  }
  return statements;
}

std::vector<std::string> replace_rows_sql(const MysqlTablePlan& plan, const std::vector<Row>& rows,
                                          std::size_t per_statement) {
  const std::string head = "REPLACE INTO " + quote(plan.shadow) + " " +
                           column_list(plan.source, plan.mapped_columns) + " VALUES ";
  std::vector<std::string> statements;
  for (std::size_t start = 0; start < rows.size(); start += per_statement) {
    const std::size_t end = std::min(rows.size(), start + per_statement);
    std::string sql = head;
    for (std::size_t r = start; r < end; ++r) {
      sql += r > start ? ", (" : "(";
      for (std::size_t i = 0; i < plan.mapped_columns.size(); ++i) {
        sql += (i > 0 ? ", " : "") +
               sql_literal(rows[r][i], plan.source.columns[plan.mapped_columns[i]]);
      }
      sql += ")";
    }
    statements.push_back(std::move(sql));
  }
  return statements;
}

}  // namespace sluice::mysql

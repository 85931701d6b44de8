#include "src/mysql/mysql_apply_sql.h"

#include <algorithm>

#include "src/mysql/mysql_copy_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

using replication::Row;

// `per_statement` keys at a time, each slice made into one statement by `statement`.
template <typename Statement>
std::vector<std::string> per_slice(const std::vector<Row>& keys, std::size_t per_statement,
                                   Statement statement) {
  std::vector<std::string> statements;
  for (std::size_t start = 0; start < keys.size(); start += per_statement) {
    const std::size_t end = std::min(keys.size(), start + per_statement);
    statements.push_back(
        statement(std::vector<Row>(keys.begin() + static_cast<std::ptrdiff_t>(start),
                                   keys.begin() + static_cast<std::ptrdiff_t>(end))));
  }
  return statements;
}

}  // namespace

std::vector<std::string> delete_keys_sql(const MysqlTablePlan& plan, const std::vector<Row>& keys,
                                         std::size_t per_statement) {
  return per_slice(keys, per_statement, [&](const std::vector<Row>& slice) {
    return "DELETE FROM " + quote(plan.shadow) + " WHERE " + key_in(plan.source, slice);
  });
}

std::vector<std::string> resync_rows_sql(const MysqlTablePlan& plan, const std::vector<Row>& keys,
                                         std::size_t per_statement) {
  return per_slice(keys, per_statement, [&](const std::vector<Row>& slice) {
    return copy_statement(plan, key_in(plan.source, slice), "REPLACE");
  });
}

}  // namespace sluice::mysql

#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "replication/change_event.h"
#include "src/mysql/mysql_table_plan.h"

namespace sluice::mysql {

// The SQL text of the apply role (MysqlApply): pure, no connection, unit tested in
// tests/mysql_apply_sql_test.cpp.

// How many rows one DELETE or REPLACE statement carries, so a large batch never builds a
// statement beyond max_allowed_packet.
constexpr std::size_t kStatementRows = 500;

// DELETE FROM the shadow WHERE (key) IN (…), `per_statement` keys a statement, in order.
std::vector<std::string> delete_keys_sql(const MysqlTablePlan& plan,
                                         const std::vector<replication::Row>& keys,
                                         std::size_t per_statement = kStatementRows);

// REPLACE INTO the shadow (mapped columns) VALUES (…), `per_statement` rows a statement, in
// order. Each row holds the mapped columns' values in plan.mapped_columns' order.
std::vector<std::string> replace_rows_sql(const MysqlTablePlan& plan,
                                          const std::vector<replication::Row>& rows,
                                          std::size_t per_statement = kStatementRows);

}  // namespace sluice::mysql

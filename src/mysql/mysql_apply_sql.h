#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "replication/change_event.h"
#include "src/mysql/mysql_table_plan.h"

namespace sluice::mysql {

// The SQL text of the apply role (MysqlApply): pure, no connection, unit tested in
// tests/mysql_apply_sql_test.cpp.

// How many keys one statement carries, so a large batch never builds a statement beyond
// max_allowed_packet.
constexpr std::size_t kStatementRows = 500;

// DELETE FROM the shadow WHERE (key) IN (…), `per_statement` keys a statement, in order.
std::vector<std::string> delete_keys_sql(const MysqlTablePlan& plan,
                                         const std::vector<replication::Row>& keys,
                                         std::size_t per_statement = kStatementRows);

// REPLACE INTO the shadow (mapped columns) SELECT them FROM the source, read through its key's
// index, WHERE (key) IN (…), `per_statement` keys a statement: the source's current rows for
// those keys, matched by the server. REPLACE, because the row may collide on a unique value
// with a shadow row whose own change is still to come (docs/architecture.md §3).
std::vector<std::string> resync_rows_sql(const MysqlTablePlan& plan,
                                         const std::vector<replication::Row>& keys,
                                         std::size_t per_statement = kStatementRows);

}  // namespace sluice::mysql

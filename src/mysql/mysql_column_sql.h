#pragma once

#include <string>
#include <vector>

#include "replication/change_event.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// Pure SQL text of the MySQL column-level migration work (mysql_column_backend.cpp), unit tested
// without a server. `table` is quoted and qualified; `where` is a condition over the table.

// The keys of the rows where `where` holds, in key order, each locked FOR UPDATE, skipping the
// rows another transaction holds (MariaDB 10.6+): a backfill batch that never waits for the
// application's row locks, and so never closes a deadlock cycle with it.
std::string locked_keys_sql(const TableSchema& schema, const std::string& table,
                            const std::string& where);

// Sets `column` to `expression` in the rows of `keys` (already locked by locked_keys_sql),
// reached by their key: give at most kKeysPerFill keys, so that the server looks each one up
// in the key's index (beyond eq_range_index_dive_limit it may scan, and lock, the whole table).
inline constexpr std::size_t kKeysPerFill = 100;
std::string fill_keys_sql(const TableSchema& schema, const std::string& table,
                          const std::string& column, const std::string& expression,
                          const std::vector<replication::Row>& keys);

// The columns, in order, and uniqueness of the index `index` (a quoted literal) of the table
// `schema_literal`.`table_literal`: one row per column (COLUMN_NAME, NON_UNIQUE, SUB_PART).
std::string index_columns_sql(const std::string& schema_literal, const std::string& table_literal,
                              const std::string& index_literal);

// The client sessions other than this one and `own_sessions` (connection ids) where `condition`
// (over information_schema.PROCESSLIST) holds: ID, USER, HOST, DB. Throws std::invalid_argument
// for an id that is not a number.
std::string sessions_sql(const std::vector<std::string>& own_sessions,
                         const std::string& condition);

}  // namespace sluice::mysql

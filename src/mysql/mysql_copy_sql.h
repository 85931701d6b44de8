#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "replication/change_event.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// The SQL text of the copy role (MysqlCopy) and of the chunk ends verification shares with it:
// pure, no connection, unit tested in tests/mysql_copy_sql_test.cpp. `where` arguments are
// range predicates (range_predicate in mysql_sql.h).

// `verb` (INSERT IGNORE, or REPLACE for the applier) INTO the shadow … SELECT of the source's
// mapped columns matching `where`, reading the source through its key's index; the added
// columns in plan.filled get their one value.
std::string copy_statement(const MysqlTablePlan& plan, const std::string& where,
                           std::string_view verb = "INSERT IGNORE");

// DELETE of the shadow's rows matching `where` (before a range is copied again).
std::string delete_range_sql(const MysqlTablePlan& plan, const std::string& where);

// The key `rows` keys after `after` (from the first key when nullopt) in the key's order, read
// through key_select_expression so it converts back exactly; no row when fewer are left.
std::string chunk_end_sql(const TableSchema& source, const std::optional<replication::Row>& after,
                          std::uint64_t rows);
// The table's last key after `after`: the end of the final, shorter chunk.
std::string last_key_sql(const TableSchema& source, const std::optional<replication::Row>& after);

// The rows an INSERT … SELECT read, from the server's summary of it (Connection::info(): "Records:
// 3  Duplicates: 1  Warnings: 0"), or nullopt when the summary has no count.
std::optional<std::uint64_t> records_read(std::string_view info);

// Whether the key is one integer column, whose chunks are spans of key values
// (integer_chunk_end) rather than walks over the rows.
bool has_integer_key(const TableSchema& source);

// SELECT MIN(`key`) or MAX(`key`) FROM the table, for a single-column key.
std::string key_bound_sql(const TableSchema& source, std::string_view function);

// SELECT MIN(`key`) FROM the table WHERE `key` > `low`, for a single integer key: the first key
// after a chunk, so a gap in the keys is crossed by one chunk.
std::string next_integer_key_sql(const TableSchema& source, const std::string& low);

// The end of a span of `rows` key values after `low` (exclusive), stretched to `next` (the
// first key after `low`) when that lies beyond, so a chunk never spans only a gap (ids near
// 2^62 among small ones), and never past `high` (the largest key); nullopt when `low` is at or
// past `high`. Keys are integers as the server prints them, of any width, signed or unsigned.
// Throws Error for text that is not an integer.
std::optional<std::string> integer_chunk_end(const std::string& low, const std::string& high,
                                             const std::string& next, std::uint64_t rows);
// The integer one less than `value` (the `low` that starts a span at the table's first key).
std::string integer_before(const std::string& value);

}  // namespace sluice::mysql

#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "replication/change_event.h"
#include "src/session.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// A name quoted for MySQL: `name`, or `schema`.`table`.
std::string quote(const std::string& name);
std::string quote(const ddl::QualifiedName& name);

// `text` with its ASCII letters in upper or lower case: server variable values, privilege and
// engine names, column names as MySQL compares them.
std::string ascii_upper(std::string text);
std::string ascii_lower(std::string text);

// How a value of this column travels between sluice and the server as a key or row value.
replication::ValueKind value_kind(const ColumnInfo& column);

// `value` as a MySQL literal for a column like `target`. Character data is written as a hex
// literal with the column's character set introducer (_utf8mb4 X'…'), binary data as X'…', so
// the bytes arrive exactly, whatever they contain. Numbers and temporal values are validated
// before they are spliced in. Throws Error for an unchanged-TOAST marker or a malformed value.
std::string sql_literal(const replication::Value& value, const ColumnInfo& target);

// "`a`, `b`" for the named columns of `schema`.
std::string column_names(const TableSchema& schema, const std::vector<std::size_t>& columns);

// "(`a`, `b`)" for the named columns of `schema`.
std::string column_list(const TableSchema& schema, const std::vector<std::size_t>& columns);

// A predicate selecting keys strictly after `key` (`strict`) or up to and including it, over the
// key columns of `schema`, expanded so the server can use the key's index:
// a > 1 OR (a = 1 AND b > 7).
std::string key_after(const TableSchema& schema, const replication::Row& key);
std::string key_up_to(const TableSchema& schema, const replication::Row& key);

// The keys of the range (after, up_to] of `schema`'s key: key_after and key_up_to joined by
// AND, either left out when nullopt (the range then starts at the first key or runs to the
// last); "TRUE" for the whole table.
std::string range_predicate(const TableSchema& schema, const std::optional<replication::Row>& after,
                            const std::optional<replication::Row>& up_to);

// "(`k1`, `k2`) IN ((1, 2), (3, 4))" for the given keys.
std::string key_in(const TableSchema& schema, const std::vector<replication::Row>& keys);

// A SELECT expression reading a key column so its text converts back into a Value exactly:
// binary and character columns through HEX(), so the bytes stay in the column's own character
// set whatever the connection's is.
std::string key_select_expression(const ColumnInfo& column);

// Turns what key_select_expression returned into the column's Value.
replication::Value key_value_from_text(const ColumnInfo& column, const std::string& text);

// lock_wait_timeout takes whole seconds: `timeout` rounded up, at least 1.
long lock_wait_seconds(std::chrono::milliseconds timeout);

// SET SESSION lock_wait_timeout: how many seconds the session's DDL and LOCK TABLES wait for a
// table's metadata lock.
std::string lock_wait_timeout_sql(long seconds);

// One LOCK TABLES statement taking every table's lock (READ to block writes, WRITE for exclusive
// use): LOCK TABLES gives back any locks held before it, so the tables must be locked together.
std::string lock_tables_statement(const std::vector<TableLockRequest>& tables);

// SET SESSION lock_wait_timeout, then lock_tables_statement.
std::vector<std::string> lock_tables_sql(const std::vector<TableLockRequest>& tables,
                                         std::chrono::milliseconds timeout);

}  // namespace sluice::mysql

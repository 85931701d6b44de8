#pragma once

#include <string>
#include <vector>

namespace sluice::postgres {

// Pure SQL text of the PostgreSQL column-level migration work (pg_column_backend.cpp), unit
// tested without a server. Statements take their names as parameters, never spliced in.

// $1 schema, $2 name → the relation holding that name in the schema (index names share one
// namespace per schema with tables, views and sequences): relkind, and its name as regclass
// prints it. No row when the name is free.
std::string relation_named_sql();

// $1 schema, $2 index name, $3 the expected key columns as a text array literal → one row for
// an index of that name: its table's schema and name, indisunique, indisvalid, whether its keys
// are exactly those columns in that order (a plain btree: no expression, predicate or INCLUDE),
// and pg_get_indexdef for messages.
std::string index_named_sql();

// $1 schema, $2 table, $3 constraint name, $4 column → one row for a constraint of that name on
// the table: convalidated, whether it is exactly CHECK (column IS NOT NULL), and its definition.
std::string not_null_check_sql();

// What one backfill batch runs: `predicate` (over the key, with its parameters) narrows the
// table to the batch's range, `rows` (backfill_rows()) to the rows to write; names come quoted.
// The rows to write are locked in key order with SKIP LOCKED, so the
// backfill never waits for a row the application holds and so is never part of a deadlock;
// the statement returns the rows written and the rows it had to skip (those still to fill in
// the statement's snapshot that it could not lock), which a later pass takes.
std::string skip_locked_backfill_sql(const std::string& table, const std::string& column,
                                     const std::string& expression, const std::string& rows,
                                     const std::vector<std::string>& key,
                                     const std::string& predicate);

// The client backends other than this one and `own_sessions` (pids) where `condition` (over
// pg_stat_activity) holds: pid, user, client address ('local' for a socket), application_name.
// Throws std::invalid_argument for a pid that is not a number.
std::string sessions_sql(const std::vector<std::string>& own_sessions,
                         const std::string& condition);

}  // namespace sluice::postgres

#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/session.h"

namespace sluice::postgres {

// Pure SQL text for the PostgreSQL rebuild (no connection), so it can be unit tested.

// The USING expression of each `ALTER [COLUMN] c [SET DATA] TYPE t USING expr` clause, by the
// column's name as the server stores it. The copy evaluates it over the original row, as the
// server's own ALTER would.
std::map<std::string, std::string> using_expressions(const std::vector<std::string>& clauses);

// Compares the key columns (already quoted) with parameters $first, $first+1, ...: a row
// comparison for a composite key, which PostgreSQL walks in its btree index:
// ("a", "b") > ($1, $2); a single column compares plainly: "id" <= $3.
std::string key_compare(const std::vector<std::string>& columns, const std::string& op,
                        std::size_t first);

// ("a", "b") IN (($1, $2), ($3, $4)) for `keys` keys, parameters numbered from $first.
std::string key_in(const std::vector<std::string>& columns, std::size_t keys, std::size_t first);

// A string literal for SQL text (standard_conforming_strings on, PostgreSQL's default since 9.1):
// quotes doubled; E'' with doubled backslashes when the text holds a backslash, so it reads the
// same whatever that setting is.
std::string quote_literal(const std::string& text);

// A one-dimensional text array literal ('{"a","b",NULL}') of `values`, every element quoted
// (so that the text NULL stays text), quotes and backslashes escaped: a whole batch of values
// binds as one parameter, and unnest() turns it back into rows.
std::string array_literal(const std::vector<std::optional<std::string>>& values);

// BEGIN, SET LOCAL lock_timeout, then LOCK TABLE for each table (SHARE blocks writes, ACCESS
// EXCLUSIVE everything): the locks live until the transaction ends.
std::vector<std::string> lock_tables_sql(const std::vector<TableLockRequest>& tables,
                                         std::chrono::milliseconds timeout);

}  // namespace sluice::postgres

#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ddl/identifier.h"
#include "replication/change_event.h"
#include "src/postgres/pg_table_plan.h"
#include "src/session.h"

namespace sluice::postgres {

// Pure SQL text shared by the roles of the PostgreSQL rebuild (no connection), so that it can
// be unit tested; each role's own statements are in pg_shadow_sql.h, pg_copy_sql.h,
// pg_apply_sql.h and pg_cut_over_sql.h.

// Text parameters of a statement; nullopt binds SQL NULL (the same type as Params).
using SqlParams = std::vector<std::optional<std::string>>;

// A condition over the key with its parameters, numbered from $1.
struct KeyPredicate {
  std::string sql;
  SqlParams params;
};

// `name` as a PostgreSQL identifier, or a schema-qualified name.
std::string ident(const std::string& name);
std::string ident(const ddl::QualifiedName& name);

// "_" + name + suffix, cut to PostgreSQL's 63-byte identifier limit: the shadow (_new), the old
// table (_old) and the old table's index and sequence names.
std::string derived_name(const std::string& name, const std::string& suffix);

// The name of the run's replication slot and publication for the table of oid `table_oid`,
// before pg::sluice_object_name() prefixes it.
std::string slot_name(const std::string& table_oid);
// The same for the reverse slot a revertible run leaves on its new table (pg_revert.h), which a
// revert of that run reads: named apart, so that another run of the table never takes it.
std::string revert_slot_name(const std::string& table_oid);

// The bind text of a stream value: bytea travels as raw bytes inside sluice and as hex text
// ("\x0aff") to the server; NULL is nullopt; everything else is already the server's text form.
std::optional<std::string> bind_text(const replication::Value& value);

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

// The keys in (after, up_to] of the key columns `key`: from the first key when `after` is
// nullopt, to the last when `up_to` is; "true" when both are.
KeyPredicate key_range(const std::vector<std::string>& key,
                       const std::optional<replication::Row>& after,
                       const std::optional<replication::Row>& up_to);

// The key columns joined: "a", "b"; with `suffix` after each (" DESC").
std::string key_list(const std::vector<std::string>& key, const std::string& suffix = "");

// The columns' names, and the values the copy computes for them, comma separated.
std::string column_names(const std::vector<PgColumn>& columns);
std::string column_values(const std::vector<PgColumn>& columns);

// The added columns that get one value (PgTablePlan::filled), and those values, each with a
// leading ", ": appended to column_names() and column_values() in every statement that writes
// rows into the shadow. Empty when there are none.
std::string filled_names(const std::vector<PgFilledColumn>& filled);
std::string filled_values(const std::vector<PgFilledColumn>& filled);

// A string literal for SQL text (standard_conforming_strings on, PostgreSQL's default since 9.1):
// quotes doubled; E'' with doubled backslashes when the text holds a backslash, so it reads the
// same whatever that setting is.
std::string quote_literal(const std::string& text);

// A one-dimensional text array literal ('{"a","b",NULL}') of `values`, every element quoted
// (so that the text NULL stays text), quotes and backslashes escaped: a whole batch of values
// binds as one parameter, and unnest() turns it back into rows.
std::string array_literal(const std::vector<std::optional<std::string>>& values);

// SET LOCAL lock_timeout for the rest of the transaction: at least 1 ms, since 0 would mean no
// limit at all.
std::string set_local_lock_timeout(std::chrono::milliseconds timeout);

// BEGIN, SET LOCAL lock_timeout, then LOCK TABLE for each table (SHARE blocks writes, ACCESS
// EXCLUSIVE everything): the locks live until the transaction ends.
std::vector<std::string> lock_tables_sql(const std::vector<TableLockRequest>& tables,
                                         std::chrono::milliseconds timeout);

// lock_tables_sql of `table` in `mode`, with SHARE UPDATE EXCLUSIVE on `vacuum_free` (quoted
// tables, `table` among them) taken first, waiting up to kVacuumLockWait. That lock keeps
// autovacuum (and ANALYZE, CREATE INDEX CONCURRENTLY) off those tables, and the application's
// reads and writes do not conflict with it, so its wait blocks no one. Without it, an autovacuum
// of the table holds sluice's LOCK, and the writes queued behind that, until the server cancels
// the autovacuum after deadlock_timeout (measured: a second of blocked writes).
std::vector<std::string> lock_past_vacuum(const std::string& vacuum_free,
                                          const ddl::QualifiedName& table, LockMode mode,
                                          std::chrono::milliseconds timeout);
constexpr std::chrono::milliseconds kVacuumLockWait{5000};

}  // namespace sluice::postgres

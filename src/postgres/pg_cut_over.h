#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_cut_over_sql.h"
#include "src/postgres/pg_table_plan.h"
#include "src/rebuild_backend.h"

namespace sluice::postgres {

// The two moments a PostgreSQL rebuild changes the table itself under its lock: the ALTER
// applied in place (with the lock the ALTER needs), and the swap (ACCESS EXCLUSIVE). Both wait
// for the lock at most RebuildOptions::cutover_lock_timeout per attempt, so the application's
// queries never queue behind sluice for longer, and retry with back-off
// (cut_over_lock_policy), changing nothing on a failed attempt.

// Applies the ALTER `clauses` to the table itself in one transaction. Returns true once the
// server has; throws Error(ExitCode::usage) when the server refuses the ALTER, and
// Error(ExitCode::failure) when no attempt got the lock (the table is untouched).
bool apply_in_place(Connection& main, const PgTablePlan& plan, const RebuildOptions& options,
                    const std::vector<std::string>& clauses);

// The table's (`oid`) columns with their types, NOT NULL and defaults, its indexes and its
// constraints, as the catalog prints them: two reads differ exactly when DDL changed one of
// them in between.
std::string read_definition(Connection& session, const std::string& oid);

// Opens a new session for one attempt of the swap.
using OpenSession = std::function<std::unique_ptr<Connection>()>;
// Brings the shadow up to date with every change committed before it is called; the swap
// calls it while it holds the table's lock, so no write can follow.
using CatchUp = std::function<void()>;

// Swaps the shadow in for the table in one transaction: the table becomes plan.old, the
// shadow takes its name, its indexes the original index names, its identity sequences the
// original sequences' names and positions; serial sequences change owner, triggers and FORCE
// ROW LEVEL SECURITY are set as on the original, foreign keys and views are re-created on the
// new table (see pg_dependents.h), and the replica identity and the application's
// publications move to it. Under the lock, before anything else, the table's definition must
// still be plan.definition: DDL another session committed during the run reaches no change
// stream, and the new table would lack it, so it stops the run with Error(ExitCode::stream).
// Any failure before the commit rolls it all back: a lock conflict
// (on the table or on another table the swap touches, or a deadlock) is retried; other errors
// are thrown, the original table untouched. Throws Error(ExitCode::failure) when every attempt
// lost its lock. `recreated` receives the re-created dependents, whose foreign keys the caller
// validates after the swap (validate_foreign_keys). With `revert_point`, the result's
// revert_from is the WAL position read under the lock after the catch-up, before the swap's
// statements: the reverse slot's changes before it are the migration's own writes to the shadow,
// those after it the application's to the new table (pg_revert.h).
CutOverResult cut_over(const PgTablePlan& plan, const RebuildOptions& options,
                       const OpenSession& open_session, const CatchUp& catch_up,
                       bool revert_point, std::vector<Dependent>& recreated);

}  // namespace sluice::postgres

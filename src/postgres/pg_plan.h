#pragma once

#include "ddl/identifier.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"
#include "src/rebuild_backend.h"

namespace sluice::postgres {

// Plans the rebuild of `table` as `options` ask, reading the catalog on `main` and creating
// nothing: runs the preflight, analyses the ALTER, names the shadow and the old table, reads
// the key the copy walks and the columns it carries, and writes the statements that create
// the shadow (plan.shadow_ddl). Fills `plan` and `table_plan` but for what only the shadow
// tells (PgTablePlan's shadow types, values and sequences; see PgShadow). Throws
// Error(ExitCode::preflight_failed) for a table or change sluice cannot migrate online (the
// message names the fix) and Error(ExitCode::usage) for a malformed ALTER; `plan` and
// `table_plan` are then unspecified.
void plan_rebuild(Connection& main, const RebuildOptions& options, const ddl::QualifiedName& table,
                  RebuildPlan& plan, PgTablePlan& table_plan);

}  // namespace sluice::postgres

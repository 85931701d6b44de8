#pragma once

#include "src/phase_plan.h"

namespace sluice::postgres {

// PostgreSQL column steps: catalog-only ALTERs, CREATE/DROP INDEX CONCURRENTLY, and NOT NULL
// through a CHECK … NOT VALID that is validated without blocking writes before SET NOT NULL.
const ColumnDdl& pg_column_ddl();

}  // namespace sluice::postgres

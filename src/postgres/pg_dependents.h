#pragma once

#include <vector>

#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_cut_over_sql.h"
#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// The objects of other tables that name the table by oid and so would keep following the old
// table after the swap: foreign keys to and from it, and views reading it. The swap re-creates
// them on the new table (recreate_dependents() in pg_cut_over_sql.h).

// Reads them on the cut-over's session `lock`, inside its transaction and before the renames,
// so that the definitions name the table by the name the new table is about to take. Foreign
// keys come NOT VALID, so that the swap does not scan (see validate_foreign_keys()).
std::vector<Dependent> read_dependents(Connection& lock, const PgTablePlan& plan);

// After the swap: validates the foreign keys that were valid before it. VALIDATE CONSTRAINT
// scans under SHARE UPDATE EXCLUSIVE, which lets writes go on. One that fails stays NOT VALID
// and is logged with the statement to run later; nothing is thrown, since the swap is done.
void validate_foreign_keys(Connection& session, const std::vector<Dependent>& dependents);

}  // namespace sluice::postgres

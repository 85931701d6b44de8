#pragma once

#include <memory>
#include <string>

#include "src/sql_phase_store.h"

namespace sluice::postgres {

// The SQL of the phase metadata on PostgreSQL (PhaseStoreSql, src/sql_phase_store.h): rows in
// `<schema>.migrations`, the layout version in `<schema>.metadata` (schema `sluice` by default),
// times the server's clock_timestamp() shown in UTC, runners kept apart by transaction-scoped
// advisory locks. Pure; unit tested in tests/pg_phase_store_sql_test.cpp.
std::unique_ptr<const PhaseStoreSql> pg_phase_store_sql(const std::string& schema);

}  // namespace sluice::postgres

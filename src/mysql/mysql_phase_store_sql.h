#pragma once

#include <memory>
#include <string>

#include "src/sql_phase_store.h"

namespace sluice::mysql {

// The SQL of the phase metadata on MySQL/MariaDB (PhaseStoreSql, src/sql_phase_store.h): rows in
// `<schema>`.`sluice_migrations`, the layout version in `<schema>`.`sluice_metadata`, times
// UTC_TIMESTAMP(6), runners kept apart by GET_LOCK. Pure; unit tested in
// tests/mysql_phase_store_sql_test.cpp.
std::unique_ptr<const PhaseStoreSql> mysql_phase_store_sql(const std::string& schema);

}  // namespace sluice::mysql

#pragma once

#include "ddl/identifier.h"
#include "src/mysql/mysql_connection.h"
#include "src/preflight.h"

namespace sluice::mysql {

// Checks server settings, replication privileges and the table itself (InnoDB, a usable key,
// triggers, foreign keys in both directions, generated columns). Reads only; creates nothing.
// Throws Error(ExitCode::not_found) when `table` does not exist.
PreflightReport run_preflight(Connection& connection, const ddl::QualifiedName& table);

}  // namespace sluice::mysql

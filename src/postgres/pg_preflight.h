#pragma once

#include "ddl/identifier.h"
#include "src/postgres/pg_connection.h"
#include "src/preflight.h"

namespace sluice::postgres {

// Checks wal_level, free replication slots and WAL senders, the role's replication rights, and
// the table itself (kind, persistence, inheritance, replica identity, foreign keys in both
// directions, dependent views, triggers). Reads only; creates nothing.
// Throws Error(ExitCode::not_found) when `table` does not exist.
PreflightReport run_preflight(Connection& connection, const ddl::QualifiedName& table);

}  // namespace sluice::postgres

#include "src/postgres/pg_backend.h"

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/postgres/pg_preflight.h"

namespace sluice::postgres {

PostgresBackend::PostgresBackend(const Dsn& dsn, const std::optional<std::string>& password)
    : connection_(dsn, password) {}

PreflightReport PostgresBackend::preflight(const std::string& table) {
  try {
    return run_preflight(connection_,
                         ddl::parse_qualified_name(ddl::Dialect::postgres, table, "public"));
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
}

}  // namespace sluice::postgres

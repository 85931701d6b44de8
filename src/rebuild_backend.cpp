#include "src/rebuild_backend.h"

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/mysql/mysql_rebuild.h"
#include "src/postgres/pg_rebuild.h"

namespace sluice {

ddl::AlterAnalysis analyze_alter_option(ddl::Dialect dialect, const std::string& alter) {
  try {
    return ddl::analyze_alter(dialect, alter);
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --alter: ") + error.what());
  }
}

std::unique_ptr<RebuildBackend> connect_rebuild_backend(
    const Dsn& dsn, const std::optional<std::string>& password) {
  if (dsn.kind == ServerKind::postgres) {
    return std::make_unique<postgres::PostgresRebuild>(dsn, password);
  }
  return std::make_unique<mysql::MysqlRebuild>(dsn, password);
}

}  // namespace sluice

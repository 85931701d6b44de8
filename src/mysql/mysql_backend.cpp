#include "src/mysql/mysql_backend.h"

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/mysql/mysql_preflight.h"

namespace sluice::mysql {

MysqlBackend::MysqlBackend(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), connection_(dsn, password) {}

PreflightReport MysqlBackend::preflight(const std::string& table) {
  ddl::QualifiedName name;
  try {
    name = ddl::parse_qualified_name(ddl::Dialect::mysql, table, dsn_.database);
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
  if (name.schema.empty()) {
    throw Error(ExitCode::usage,
                "--table names no database; give it as database.table or put the database in "
                "the DSN (mysql://user@host:port/database)");
  }
  return run_preflight(connection_, name);
}

}  // namespace sluice::mysql

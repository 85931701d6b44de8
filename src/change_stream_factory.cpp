#include "src/change_stream_factory.h"

#include "ddl/ddl_error.h"
#include "ddl/identifier.h"
#include "src/error.h"
#include "src/postgres/pg_change_stream.h"

namespace sluice {

std::unique_ptr<replication::ChangeStream> open_change_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table_text) {
  if (dsn.kind != ServerKind::postgres) {
    throw Error(ExitCode::usage, "sluice stream does not support MySQL/MariaDB yet");
  }
  ddl::QualifiedName table;
  try {
    table = ddl::parse_qualified_name(ddl::Dialect::postgres, table_text, "public");
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
  return postgres::open_postgres_stream(dsn, password, table);
}

}  // namespace sluice

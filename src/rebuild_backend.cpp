#include "src/rebuild_backend.h"

#include "src/mysql/mysql_rebuild.h"
#include "src/postgres/pg_rebuild.h"

namespace sluice {

std::unique_ptr<RebuildBackend> connect_rebuild_backend(
    const Dsn& dsn, const std::optional<std::string>& password) {
  if (dsn.kind == ServerKind::postgres) {
    return std::make_unique<postgres::PostgresRebuild>(dsn, password);
  }
  return std::make_unique<mysql::MysqlRebuild>(dsn, password);
}

}  // namespace sluice

#include "src/rebuild_backend.h"

#include "src/error.h"
#include "src/mysql/mysql_rebuild.h"

namespace sluice {

std::unique_ptr<RebuildBackend> connect_rebuild_backend(
    const Dsn& dsn, const std::optional<std::string>& password) {
  if (dsn.kind == ServerKind::postgres) {
    throw Error(ExitCode::usage,
                "sluice alter does not rebuild PostgreSQL tables yet; sluice check already "
                "reports whether one could be migrated");
  }
  return std::make_unique<mysql::MysqlRebuild>(dsn, password);
}

}  // namespace sluice

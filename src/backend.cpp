#include "src/backend.h"

#include "src/mysql/mysql_backend.h"
#include "src/postgres/pg_backend.h"

namespace sluice {

std::unique_ptr<Backend> connect_backend(const Dsn& dsn,
                                         const std::optional<std::string>& password) {
  if (dsn.kind == ServerKind::mysql) {
    return std::make_unique<mysql::MysqlBackend>(dsn, password);
  }
  return std::make_unique<postgres::PostgresBackend>(dsn, password);
}

}  // namespace sluice

#include "src/column_backend.h"

#include "src/mysql/mysql_column_backend.h"
#include "src/postgres/pg_column_backend.h"

namespace sluice {

std::unique_ptr<ColumnBackend> connect_column_backend(const Dsn& dsn,
                                                      const std::optional<std::string>& password) {
  if (dsn.kind == ServerKind::postgres) {
    return std::make_unique<postgres::PgColumnBackend>(dsn, password);
  }
  return std::make_unique<mysql::MysqlColumnBackend>(dsn, password);
}

}  // namespace sluice

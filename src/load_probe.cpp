#include "src/load_probe.h"

#include "src/mysql/mysql_load_probe.h"
#include "src/postgres/pg_load_probe.h"

namespace sluice {

std::unique_ptr<LoadProbe> connect_load_probe(const Dsn& dsn,
                                              const std::optional<std::string>& password,
                                              const std::vector<std::string>& replicas) {
  if (dsn.kind == ServerKind::postgres) {
    return std::make_unique<postgres::PgLoadProbe>(dsn, password, replicas);
  }
  return std::make_unique<mysql::MysqlLoadProbe>(dsn, password, replicas);
}

}  // namespace sluice

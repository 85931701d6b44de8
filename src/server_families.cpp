#include "src/mysql/mysql_family.h"
#include "src/postgres/pg_family.h"
#include "src/server_family.h"

namespace sluice {

const ServerFamily& server_family(ServerKind kind) {
  return kind == ServerKind::postgres ? postgres::pg_family() : mysql::mysql_family();
}

const ServerFamily& server_family(ddl::Dialect dialect) {
  return dialect == ddl::Dialect::postgres ? postgres::pg_family() : mysql::mysql_family();
}

}  // namespace sluice

#include "src/mysql/mysql_backend.h"

#include "src/error.h"
#include "src/mysql/mysql_preflight.h"
#include "src/mysql/mysql_schema.h"

namespace sluice::mysql {

MysqlBackend::MysqlBackend(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), connection_(dsn, password) {}

PreflightReport MysqlBackend::preflight(const std::string& table) {
  return run_preflight(connection_, resolve_table_name(dsn_, table));
}

}  // namespace sluice::mysql

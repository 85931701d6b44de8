#pragma once

#include "src/backend.h"
#include "src/mysql/mysql_connection.h"

namespace sluice::mysql {

// The Backend for MySQL and MariaDB servers.
class MysqlBackend : public Backend {
 public:
  MysqlBackend(const Dsn& dsn, const std::optional<std::string>& password);

  PreflightReport preflight(const std::string& table) override;

 private:
  Dsn dsn_;
  Connection connection_;
};

}  // namespace sluice::mysql

#pragma once

#include "src/backend.h"
#include "src/postgres/pg_connection.h"

namespace sluice::postgres {

// The Backend for PostgreSQL servers.
class PostgresBackend : public Backend {
 public:
  PostgresBackend(const Dsn& dsn, const std::optional<std::string>& password);

  PreflightReport preflight(const std::string& table) override;

 private:
  Connection connection_;
};

}  // namespace sluice::postgres

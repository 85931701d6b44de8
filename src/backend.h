#pragma once

#include <memory>
#include <optional>
#include <string>

#include "src/dsn.h"
#include "src/preflight.h"

namespace sluice {

// Everything the engine asks of one server family. Each family's SQL lives behind this
// interface in src/mysql/ or src/postgres/; the engine never builds server-specific SQL.
class Backend {
 public:
  virtual ~Backend() = default;

  // Checks every precondition of an online migration of `table` (as the user typed it; a bare
  // name is looked up in the DSN's database on MySQL and in `public` on PostgreSQL). Creates
  // nothing. Throws Error(ExitCode::not_found) when the table does not exist and
  // Error(ExitCode::usage) for a malformed name.
  virtual PreflightReport preflight(const std::string& table) = 0;
};

// Connects to the server named by `dsn` and returns its backend.
std::unique_ptr<Backend> connect_backend(const Dsn& dsn,
                                         const std::optional<std::string>& password);

}  // namespace sluice

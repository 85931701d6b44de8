#pragma once

#include <optional>
#include <string>

#include "src/dsn.h"

namespace sluice {

struct PasswordOptions {
  std::string password_file;  // --password-file: the first line of this file is the password
  bool ask = false;           // --ask-password: prompt on the terminal, without echo
};

// Finds the password for `kind`, in this order: --password-file, the environment (MYSQL_PWD or
// PGPASSWORD), a terminal prompt when asked. Returns nullopt when none is given; PostgreSQL's
// libpq then still consults ~/.pgpass. Never logs or echoes the value.
// Throws Error(ExitCode::usage) when the file cannot be read or no terminal is there to ask.
std::optional<std::string> resolve_password(ServerKind kind, const PasswordOptions& options);

}  // namespace sluice

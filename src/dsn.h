#pragma once

#include <string>
#include <string_view>

namespace sluice {

enum class ServerKind { mysql, postgres };

// Where to connect, parsed from the user's --dsn. Never holds a password: a DSN that carries one
// is refused, because command lines are visible to every user of the machine through `ps`.
struct Dsn {
  ServerKind kind = ServerKind::mysql;
  std::string host;
  unsigned port = 0;
  std::string user;
  std::string database;
  std::string socket;  // MySQL: ?socket=PATH instead of TCP
  // PostgreSQL: the URL or conninfo string exactly as given, handed to libpq, which understands
  // every connection keyword (sslmode, service, ...).
  std::string pg_conninfo;

  // A form safe to print: "mysql://user@host:port/db" or "postgres://user@host:port/db".
  std::string display() const;
};

// Accepts `mysql://[user@]host[:port][/database][?socket=PATH]` (also `mariadb://`),
// `postgres://…` / `postgresql://…` URLs and PostgreSQL `key=value` conninfo strings.
// Throws Error(ExitCode::usage) with one sentence naming what is wrong.
Dsn parse_dsn(std::string_view text);

}  // namespace sluice

#include "src/dsn.h"

#include <doctest/doctest.h>

#include <cstdlib>

#include "src/error.h"

using sluice::Dsn;
using sluice::Error;
using sluice::ExitCode;
using sluice::parse_dsn;
using sluice::ServerKind;

namespace {

ExitCode code_of(const char* text) {
  try {
    parse_dsn(text);
  } catch (const Error& error) {
    return error.code();
  }
  return ExitCode::ok;
}

std::string message_of(const char* text) {
  try {
    parse_dsn(text);
  } catch (const Error& error) {
    return error.what();
  }
  return {};
}

}  // namespace

TEST_CASE("a full MySQL URL") {
  Dsn dsn = parse_dsn("mysql://app@db1.example.com:3307/shop");
  CHECK(dsn.kind == ServerKind::mysql);
  CHECK(dsn.user == "app");
  CHECK(dsn.host == "db1.example.com");
  CHECK(dsn.port == 3307);
  CHECK(dsn.database == "shop");
  CHECK(dsn.display() == "mysql://app@db1.example.com:3307/shop");
}

TEST_CASE("MySQL defaults: port 3306, mariadb:// alias, socket parameter, percent-decoding") {
  Dsn dsn = parse_dsn("mariadb://root@127.0.0.1/my%20db");
  CHECK(dsn.port == 3306);
  CHECK(dsn.database == "my db");
  Dsn socket = parse_dsn("mysql://root@/shop?socket=%2Ftmp%2Fmy.sock");
  CHECK(socket.socket == "/tmp/my.sock");
  CHECK(socket.host == "localhost");
  Dsn v6 = parse_dsn("mysql://u%40corp@[::1]:3310/db");
  CHECK(v6.user == "u@corp");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 3310);
  CHECK(v6.display() == "mysql://u@corp@[::1]:3310/db");
}

TEST_CASE("a password in any DSN is refused and never echoed") {
  CHECK(code_of("mysql://root:hunter2@localhost/db") == ExitCode::usage);
  CHECK(message_of("mysql://root:hunter2@localhost/db").find("hunter2") == std::string::npos);
  CHECK(code_of("mysql://root@localhost/db?password=hunter2") == ExitCode::usage);
  CHECK(code_of("postgres://app:hunter2@localhost/db") == ExitCode::usage);
  CHECK(message_of("postgres://app:hunter2@localhost/db").find("hunter2") == std::string::npos);
  CHECK(code_of("host=localhost password=hunter2 dbname=x") == ExitCode::usage);
  CHECK(message_of("host=localhost password=hunter2").find("hunter2") == std::string::npos);
}

TEST_CASE("malformed DSNs are usage errors") {
  CHECK(code_of("") == ExitCode::usage);
  CHECK(code_of("oracle://x") == ExitCode::usage);
  CHECK(code_of("mysql://root@localhost:99999/db") == ExitCode::usage);
  CHECK(code_of("mysql://root@localhost:abc/db") == ExitCode::usage);
  CHECK(code_of("mysql://root@/db") == ExitCode::usage);
  CHECK(code_of("mysql://root@[::1/db") == ExitCode::usage);
  CHECK(code_of("mysql://root@localhost/db?colour=blue") == ExitCode::usage);
  CHECK(code_of("mysql://root@localhost/a%zz") == ExitCode::usage);
  CHECK(code_of("postgres://u@h:notaport/db") == ExitCode::usage);
  CHECK(code_of("host=localhost nonsense_key=1") == ExitCode::usage);
}

TEST_CASE("PostgreSQL URLs and conninfo strings") {
  Dsn url = parse_dsn("postgresql://app@10.0.0.5:6432/shop?sslmode=disable");
  CHECK(url.kind == ServerKind::postgres);
  CHECK(url.user == "app");
  CHECK(url.host == "10.0.0.5");
  CHECK(url.port == 6432);
  CHECK(url.database == "shop");
  CHECK(url.pg_conninfo == "postgresql://app@10.0.0.5:6432/shop?sslmode=disable");
  Dsn conninfo = parse_dsn("host=127.0.0.1 port=5444 user=postgres dbname=test");
  CHECK(conninfo.kind == ServerKind::postgres);
  CHECK(conninfo.port == 5444);
  CHECK(conninfo.database == "test");
  CHECK(conninfo.display() == "postgres://postgres@127.0.0.1:5444/test");
}

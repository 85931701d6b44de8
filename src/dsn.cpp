#include "src/dsn.h"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <memory>

#include "src/error.h"

namespace sluice {
namespace {

constexpr std::string_view kPasswordAdvice =
    "pass the password through the environment (MYSQL_PWD / PGPASSWORD), --password-file or "
    "--ask-password so it never shows in the process list";

[[noreturn]] void bad_dsn(const std::string& why) {
  throw Error(ExitCode::usage, "invalid --dsn: " + why);
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size() || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) {
        bad_dsn("a '%' must be followed by two hex digits");
      }
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

unsigned parse_port(std::string_view text) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
    bad_dsn("the port '" + std::string(text) + "' is not a number between 1 and 65535");
  }
  return port;
}

std::string os_user() {
  const char* user = std::getenv("USER");
  return user ? user : "root";
}

void parse_mysql_query(std::string_view query, Dsn& dsn) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    if (key == "socket") {
      dsn.socket = value;
    } else if (key == "password") {
      bad_dsn("the DSN contains a password; " + std::string(kPasswordAdvice));
    } else {
      bad_dsn("unknown MySQL DSN parameter '" + key + "' (known: socket)");
    }
  }
}

Dsn parse_mysql_url(std::string_view rest) {
  Dsn dsn;
  dsn.kind = ServerKind::mysql;
  dsn.port = 3306;
  std::size_t question = rest.find('?');
  if (question != std::string_view::npos) {
    parse_mysql_query(rest.substr(question + 1), dsn);
    rest = rest.substr(0, question);
  }
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    dsn.database = percent_decode(rest.substr(slash + 1));
    if (dsn.database.find('/') != std::string::npos) {
      bad_dsn("the database name must not contain '/' (percent-encode it as %2F)");
    }
  }
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    if (userinfo.find(':') != std::string_view::npos) {
      bad_dsn("the DSN contains a password; " + std::string(kPasswordAdvice));
    }
    dsn.user = percent_decode(userinfo);
    authority = authority.substr(at + 1);
  } else {
    dsn.user = os_user();
  }
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      bad_dsn("an IPv6 host must be closed with ']'");
    }
    dsn.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') {
        bad_dsn("expected ':port' after the IPv6 host");
      }
      dsn.port = parse_port(authority.substr(1));
    }
  } else {
    std::size_t colon = authority.find(':');
    dsn.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      dsn.port = parse_port(authority.substr(colon + 1));
    }
  }
  if (dsn.host.empty() && dsn.socket.empty()) {
    bad_dsn("the MySQL DSN names no host; expected mysql://user@host:port/database");
  }
  if (dsn.host.empty()) {
    dsn.host = "localhost";
  }
  if (dsn.user.empty()) {
    bad_dsn("the user name is empty");
  }
  return dsn;
}

struct ConninfoDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

Dsn parse_postgres(std::string_view text) {
  Dsn dsn;
  dsn.kind = ServerKind::postgres;
  dsn.pg_conninfo = std::string(text);
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoDeleter> options(
      PQconninfoParse(dsn.pg_conninfo.c_str(), &error));
  if (!options) {
    std::string why = error ? error : "libpq could not parse it";
    PQfreemem(error);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) {
      why.pop_back();
    }
    bad_dsn(why);
  }
  for (PQconninfoOption* option = options.get(); option->keyword; ++option) {
    if (!option->val) {
      continue;
    }
    std::string_view keyword = option->keyword;
    if (keyword == "password") {
      bad_dsn("the DSN contains a password; " + std::string(kPasswordAdvice) + " or ~/.pgpass");
    } else if (keyword == "host" || keyword == "hostaddr") {
      dsn.host = option->val;
    } else if (keyword == "port") {
      dsn.port = parse_port(option->val);
    } else if (keyword == "user") {
      dsn.user = option->val;
    } else if (keyword == "dbname") {
      dsn.database = option->val;
    }
  }
  if (dsn.port == 0) {
    dsn.port = 5432;
  }
  if (dsn.user.empty()) {
    const char* pguser = std::getenv("PGUSER");
    dsn.user = pguser ? pguser : os_user();
  }
  if (dsn.database.empty()) {
    dsn.database = dsn.user;
  }
  if (dsn.host.empty()) {
    dsn.host = "localhost";
  }
  return dsn;
}

bool looks_like_conninfo(std::string_view text) {
  std::size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return false;
  }
  for (char c : text.substr(0, eq)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ' ') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string Dsn::display() const {
  std::string scheme = kind == ServerKind::mysql ? "mysql" : "postgres";
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string out = scheme + "://" + user + "@" + host_part + ":" + std::to_string(port);
  if (!database.empty()) {
    out += "/" + database;
  }
  if (!socket.empty()) {
    out += "?socket=" + socket;
  }
  return out;
}

Dsn parse_dsn(std::string_view text) {
  if (text.empty()) {
    bad_dsn("it is empty; expected mysql://user@host:port/database or postgres://user@host/db");
  }
  if (starts_with(text, "mysql://")) {
    return parse_mysql_url(text.substr(8));
  }
  if (starts_with(text, "mariadb://")) {
    return parse_mysql_url(text.substr(10));
  }
  if (starts_with(text, "postgres://") || starts_with(text, "postgresql://") ||
      looks_like_conninfo(text)) {
    return parse_postgres(text);
  }
  bad_dsn(
      "it must start with mysql://, mariadb://, postgres:// or postgresql://, or be a "
      "PostgreSQL key=value connection string");
}

}  // namespace sluice

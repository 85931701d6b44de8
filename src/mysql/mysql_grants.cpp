#include "src/mysql/mysql_grants.h"

#include <optional>

#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

std::vector<std::string> show_grants(Connection& connection, const std::string& statement) {
  std::vector<std::string> lines;
  for (const ResultRow& row : connection.query(statement)) {
    if (!row.empty() && row.front()) {
      lines.push_back(*row.front());
    }
  }
  return lines;
}

// The database pattern of a grant's object (`db`.*), unquoted; nullopt for *.* or a table.
std::optional<std::string> database_pattern(const std::string& object) {
  if (object.size() <= 4 || object.front() != '`' || !object.ends_with("`.*")) {
    return std::nullopt;
  }
  std::string pattern;
  for (std::size_t i = 1; i + 3 < object.size(); ++i) {
    pattern += object[i];
    if (object[i] == '`') {
      ++i;  // a doubled backtick inside the quoted name
    }
  }
  return pattern;
}

// CURRENT_USER()'s name@host as an account name the server reads back ('name'@'host').
std::string quoted_account(const std::string& user) {
  const std::size_t at = user.rfind('@');
  auto literal = [](std::string_view text) {
    std::string quoted = "'";
    for (char c : text) {
      quoted += c == '\'' ? std::string("''") : std::string(1, c);
    }
    return quoted + "'";
  };
  if (at == std::string::npos) {
    return literal(user);
  }
  return literal(std::string_view(user).substr(0, at)) + "@" +
         literal(std::string_view(user).substr(at + 1));
}

}  // namespace

bool matches_database_pattern(std::string_view pattern, std::string_view name) {
  if (pattern.empty()) {
    return name.empty();
  }
  if (pattern.front() == '%') {
    for (std::size_t skip = 0; skip <= name.size(); ++skip) {
      if (matches_database_pattern(pattern.substr(1), name.substr(skip))) {
        return true;
      }
    }
    return false;
  }
  if (name.empty()) {
    return false;
  }
  if (pattern.front() == '\\' && pattern.size() > 1) {
    return pattern[1] == name.front() &&
           matches_database_pattern(pattern.substr(2), name.substr(1));
  }
  return (pattern.front() == '_' || pattern.front() == name.front()) &&
         matches_database_pattern(pattern.substr(1), name.substr(1));
}

std::set<std::string> privileges_on(const std::vector<std::string>& lines,
                                    const std::string& database) {
  std::set<std::string> privileges;
  for (const std::string& grant : lines) {
    const std::size_t on = grant.find(" ON ");
    const std::size_t to = grant.find(" TO ", on == std::string::npos ? 0 : on);
    if (grant.rfind("GRANT ", 0) != 0 || on == std::string::npos || to == std::string::npos) {
      continue;
    }
    const std::string object = grant.substr(on + 4, to - on - 4);
    const std::optional<std::string> pattern = database_pattern(object);
    const bool covers = object == "*.*" || (!database.empty() && pattern &&
                                            matches_database_pattern(*pattern, database));
    if (!covers) {
      continue;
    }
    const std::string list = grant.substr(6, on - 6);
    std::size_t start = 0;
    while (start < list.size()) {
      const std::size_t comma = list.find(", ", start);
      privileges.insert(ascii_upper(list.substr(start, comma - start)));
      start = comma == std::string::npos ? list.size() : comma + 2;
    }
  }
  return privileges;
}

std::vector<std::string> roles_granted_to_user(const std::vector<std::string>& lines) {
  std::vector<std::string> roles;
  for (const std::string& grant : lines) {
    const std::size_t to = grant.find(" TO ");
    if (grant.rfind("GRANT `", 0) != 0 || to == std::string::npos ||
        grant.find(" ON ") != std::string::npos) {
      continue;
    }
    // A grantee with a host part is a user; MariaDB's roles have none. On MySQL 8 roles are
    // accounts too, and SHOW GRANTS for the current user lists only what was granted to it.
    if (grant.find('@', to) == std::string::npos) {
      continue;
    }
    // MySQL 8 lists several roles in one line: split at commas outside backticks.
    std::string role;
    bool quoted = false;
    for (char c : grant.substr(6, to - 6)) {
      if (c == '`') {
        quoted = !quoted;
      }
      if (c == ',' && !quoted) {
        roles.push_back(role);
        role.clear();
      } else {
        role += c;
      }
    }
    roles.push_back(role);
  }
  return roles;
}

SessionGrants read_session_grants(Connection& connection) {
  SessionGrants grants;
  grants.lines = show_grants(connection, "SHOW GRANTS");
  const std::vector<std::string> granted = roles_granted_to_user(grants.lines);
  if (granted.empty()) {
    return grants;
  }
  const bool mariadb =
      connection.query_value("SELECT VERSION()").value_or("").find("MariaDB") != std::string::npos;
  // MariaDB: the one enabled role, unquoted, or NULL; MySQL 8: `r`@`h`,… or NONE.
  const std::string current = connection.query_value("SELECT CURRENT_ROLE()").value_or("");
  if (!mariadb && !current.empty() && current != "NONE") {
    grants.lines = show_grants(connection, "SHOW GRANTS FOR CURRENT_USER() USING " + current);
  }
  for (const std::string& role : granted) {
    const bool enabled = mariadb
                             ? role == "`" + current + "`"
                             : ("," + current + ",").find("," + role + ",") != std::string::npos;
    if (!enabled) {
      grants.inactive_roles.push_back(role);
    }
  }
  return grants;
}

std::string grant_fix(const SessionGrants& grants, const std::string& missing,
                      const std::string& object, const std::string& user) {
  std::string fix = "GRANT " + missing + " ON " + object + " TO the user sluice connects as";
  if (!grants.inactive_roles.empty()) {
    std::string roles;
    for (const std::string& role : grants.inactive_roles) {
      roles += (roles.empty() ? "" : ", ") + role;
    }
    fix += ", or, if its role " + roles + " holds them, enable the role in new sessions: SET " +
           "DEFAULT ROLE " + grants.inactive_roles.front() + " FOR " + quoted_account(user);
  }
  return fix;
}

}  // namespace sluice::mysql

#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/mysql/mysql_connection.h"

namespace sluice::mysql {

// What SHOW GRANTS says the current session may do: the GRANT lines of the user and of the roles
// it has enabled (nested roles included), and the roles granted to the user that this session
// has not enabled, whose privileges the server does not apply.
struct SessionGrants {
  std::vector<std::string> lines;
  std::vector<std::string> inactive_roles;  // as SHOW GRANTS quotes them: `r` or `r`@`%`
};

// Reads the session's grants. MariaDB lists the enabled role's grants in SHOW GRANTS already;
// MySQL 8 lists them only with SHOW GRANTS … USING the roles CURRENT_ROLE() names.
SessionGrants read_session_grants(Connection& connection);

// The privileges `lines` give on every table of `database`: those granted on *.* and on
// `database`.* (or a pattern matching it), upper case. An empty `database` means on *.* only.
std::set<std::string> privileges_on(const std::vector<std::string>& lines,
                                    const std::string& database);

// The roles granted to the user (not to a role) in `lines`, quoted as SHOW GRANTS prints them.
std::vector<std::string> roles_granted_to_user(const std::vector<std::string>& lines);

// Whether `name` matches the database pattern of a GRANT (`%` and `_` are wildcards, `\` escapes
// them), as the server matches it.
bool matches_database_pattern(std::string_view pattern, std::string_view name);

// The fix for missing privileges: GRANT `missing` ON `object` TO the user, and, when the user has
// roles this session did not enable, that enabling them (SET DEFAULT ROLE) may be the fix.
// `user` is CURRENT_USER()'s text (name@host).
std::string grant_fix(const SessionGrants& grants, const std::string& missing,
                      const std::string& object, const std::string& user);

}  // namespace sluice::mysql

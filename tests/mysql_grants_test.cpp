// Reading SHOW GRANTS: privileges by database pattern, roles granted to the user, and the fix
// offered when a role holding the privileges is not enabled.
#include "src/mysql/mysql_grants.h"

#include <doctest/doctest.h>

using namespace sluice::mysql;

namespace {
// SHOW GRANTS on MariaDB 10.11 for a user whose default role r1 holds r2 (nested).
const std::vector<std::string> kRoleGrants = {
    "GRANT `r1` TO `ru`@`%`",
    "GRANT USAGE ON *.* TO `ru`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6E379B50D0463EFAE'",
    "GRANT `r2` TO `r1`",
    "GRANT USAGE ON *.* TO `r1`",
    "GRANT SELECT, INSERT, LOCK TABLES ON `shop`.* TO `r1`",
    "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `r2`",
    "SET DEFAULT ROLE `r1` FOR `ru`@`%`"};
}  // namespace

TEST_CASE("privileges come from the user's and its enabled roles' grants, nested ones too") {
  CHECK(privileges_on(kRoleGrants, "") ==
        std::set<std::string>{"USAGE", "REPLICATION SLAVE", "BINLOG MONITOR"});
  CHECK(privileges_on(kRoleGrants, "shop") == std::set<std::string>{"USAGE", "REPLICATION SLAVE",
                                                                    "BINLOG MONITOR", "SELECT",
                                                                    "INSERT", "LOCK TABLES"});
  CHECK_FALSE(privileges_on(kRoleGrants, "shops").contains("SELECT"));
}

TEST_CASE("a database pattern matches as the server matches it") {
  CHECK(matches_database_pattern("shop%", "shop_eu"));
  CHECK(matches_database_pattern("sh_p", "ship"));
  CHECK_FALSE(matches_database_pattern("sh\\_p", "ship"));
  CHECK(matches_database_pattern("sh\\_p", "sh_p"));
  CHECK(privileges_on({"GRANT ALL PRIVILEGES ON `app\\_%`.* TO `u`@`%`"}, "app_eu")
            .contains("ALL PRIVILEGES"));
  CHECK(privileges_on({"GRANT SELECT ON `we``ird`.* TO `u`@`%`"}, "we`ird").contains("SELECT"));
  // A table-level grant does not cover the shadow table sluice creates beside it.
  CHECK(privileges_on({"GRANT SELECT ON `shop`.`orders` TO `u`@`%`"}, "shop").empty());
}

TEST_CASE("roles granted to the user are told apart from roles granted to roles") {
  CHECK(roles_granted_to_user(kRoleGrants) == std::vector<std::string>{"`r1`"});
  // MySQL 8 names roles as accounts.
  CHECK(roles_granted_to_user({"GRANT `dba`@`%`,`app`@`%` TO `u`@`localhost`",
                               "GRANT USAGE ON *.* TO `u`@`localhost`"}) ==
        std::vector<std::string>{"`dba`@`%`", "`app`@`%`"});
}

TEST_CASE("the fix for a missing privilege names a granted role that is not enabled") {
  SessionGrants grants;
  CHECK(grant_fix(grants, "SELECT", "`shop`.*", "ru@%") ==
        "GRANT SELECT ON `shop`.* TO the user sluice connects as");
  grants.inactive_roles = {"`r1`"};
  CHECK(grant_fix(grants, "SELECT", "`shop`.*", "o'brien@10.%") ==
        "GRANT SELECT ON `shop`.* TO the user sluice connects as, or, if its role `r1` holds "
        "them, enable the role in new sessions: SET DEFAULT ROLE `r1` FOR 'o''brien'@'10.%'");
}

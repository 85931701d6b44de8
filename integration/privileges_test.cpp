// The privileges README.md and docs/alter.md document are exactly enough: a user holding them
// migrates a table with `sluice alter --execute`; with any one of them taken away, sluice
// refuses before it creates anything, naming the missing grant. Both servers.
#include <doctest/doctest.h>

#include <algorithm>

#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

const std::string kPassword = "Priv-pw-5";

// Runs `sluice alter --execute` on `table` as the test user.
RunResult alter_as_user(ServerKind kind, const std::string& table, const std::string& alter,
                        const std::vector<std::string>& extra = {}) {
  std::string dsn = server_dsn(kind);
  const std::string admin = kind == ServerKind::mysql ? "root@" : "postgres@";
  dsn.replace(dsn.find(admin), admin.size(), "priv_user@");
  std::vector<std::string> args = {"alter",   "--dsn", dsn,         "--table",        table,
                                   "--alter", alter,   "--execute", "--force-rebuild"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_sluice(args, {{kind == ServerKind::mysql ? "MYSQL_PWD" : "PGPASSWORD", kPassword}});
}

void check_refused_naming(const RunResult& run, const std::string& grant) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 5);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  CHECK(run.err.find(grant) != std::string::npos);
}

// MySQL: the documented grants, on *.* and on the table's (and metadata's) database.
const std::vector<std::string> kMysqlGlobalGrants = {"REPLICATION SLAVE", "REPLICATION CLIENT"};
const std::vector<std::string> kMysqlDatabaseGrants = {"SELECT", "INSERT", "UPDATE", "DELETE",
                                                       "CREATE", "DROP",   "ALTER",  "LOCK TABLES"};

void mysql_fresh_table(sluice::mysql::Connection& db, const std::string& table) {
  for (const std::string& name : {table, "_" + table + "_old", table + "_sluice_new"}) {
    db.execute("DROP TABLE IF EXISTS `" + name + "`");
  }
  db.execute("CREATE TABLE `" + table + "` (id INT PRIMARY KEY, v INT NOT NULL)");
  db.execute("INSERT INTO `" + table + "` SELECT seq, seq FROM seq_1_to_2000");
}

void mysql_grant_documented(sluice::mysql::Connection& db) {
  db.execute("DROP USER IF EXISTS 'priv_user'@'127.0.0.1'");
  db.execute("CREATE USER 'priv_user'@'127.0.0.1' IDENTIFIED BY '" + kPassword + "'");
  db.execute("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'priv_user'@'127.0.0.1'");
  db.execute(
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, LOCK TABLES ON `sluice_test`.* "
      "TO 'priv_user'@'127.0.0.1'");
}

// PostgreSQL: REPLICATION, ownership of the table, CREATE on the database and on the schema.
void pg_fresh_table(sluice::postgres::Connection& db, const std::string& table) {
  db.execute("DROP TABLE IF EXISTS " + table + ", _" + table + "_old, _" + table +
             "_new; CREATE TABLE " + table + " (id int PRIMARY KEY, v int NOT NULL); INSERT INTO " +
             table + " SELECT g, g FROM generate_series(1, 2000) g; ALTER TABLE " + table +
             " OWNER TO priv_user");
}

void pg_grant_documented(sluice::postgres::Connection& db) {
  db.execute(
      "DROP SCHEMA IF EXISTS priv_meta CASCADE; DROP TABLE IF EXISTS priv_ok, _priv_ok_old, "
      "priv_less, _priv_less_old;"
      "DROP ROLE IF EXISTS priv_user; CREATE ROLE priv_user LOGIN REPLICATION PASSWORD '" +
      kPassword +
      "'; GRANT CREATE ON DATABASE sluice_test TO priv_user; GRANT CREATE ON SCHEMA public TO "
      "priv_user");
}

}  // namespace

TEST_CASE("MySQL: the documented grants suffice, and each one less is named") {
  auto db = mysql_admin();
  mysql_grant_documented(*db);
  mysql_fresh_table(*db, "priv_ok");
  {
    const RunResult run = alter_as_user(ServerKind::mysql, "priv_ok", "MODIFY v BIGINT NOT NULL");
    INFO("stdout: " << run.out << "\nstderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(db->query_value("SELECT COUNT(*) FROM priv_ok") == "2000");
  }
  for (const std::string& grant : kMysqlGlobalGrants) {
    CAPTURE(grant);
    mysql_fresh_table(*db, "priv_less");
    db->execute("REVOKE " + grant + " ON *.* FROM 'priv_user'@'127.0.0.1'");
    check_refused_naming(alter_as_user(ServerKind::mysql, "priv_less", "MODIFY v BIGINT NOT NULL"),
                         grant);
    CHECK(db->query("SHOW TABLES LIKE 'priv\\_less\\_sluice\\_new'").empty());
    db->execute("GRANT " + grant + " ON *.* TO 'priv_user'@'127.0.0.1'");
  }
  for (const std::string& grant : kMysqlDatabaseGrants) {
    CAPTURE(grant);
    mysql_fresh_table(*db, "priv_less");
    db->execute("REVOKE " + grant + " ON `sluice_test`.* FROM 'priv_user'@'127.0.0.1'");
    // SELECT is missed first by the phase metadata, which is read before the preflight.
    check_refused_naming(alter_as_user(ServerKind::mysql, "priv_less", "MODIFY v BIGINT NOT NULL"),
                         grant);
    CHECK(db->query("SHOW TABLES LIKE 'priv\\_less\\_sluice\\_new'").empty());
    db->execute("GRANT " + grant + " ON `sluice_test`.* TO 'priv_user'@'127.0.0.1'");
  }
  db->execute("DROP USER 'priv_user'@'127.0.0.1'");
}

// MariaDB applies the privileges of the role a session enabled (by SET DEFAULT ROLE at login),
// and of the roles granted to that role; a role granted but not enabled gives nothing, and the
// refusal says how to enable it.
TEST_CASE("MySQL: grants held through a default role and a nested role suffice") {
  auto db = mysql_admin();
  db->execute("DROP USER IF EXISTS 'priv_user'@'127.0.0.1'");
  db->execute("DROP ROLE IF EXISTS priv_outer");
  db->execute("DROP ROLE IF EXISTS priv_inner");
  db->execute("CREATE ROLE priv_inner");
  db->execute("CREATE ROLE priv_outer");
  db->execute("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO priv_inner");
  db->execute("GRANT priv_inner TO priv_outer");
  db->execute("CREATE USER 'priv_user'@'127.0.0.1' IDENTIFIED BY '" + kPassword + "'");
  db->execute(
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, LOCK TABLES ON `sluice_test`.* "
      "TO 'priv_user'@'127.0.0.1'");
  db->execute("GRANT priv_outer TO 'priv_user'@'127.0.0.1'");
  db->execute("SET DEFAULT ROLE priv_outer FOR 'priv_user'@'127.0.0.1'");
  mysql_fresh_table(*db, "priv_ok");
  {
    const RunResult run = alter_as_user(ServerKind::mysql, "priv_ok", "MODIFY v BIGINT NOT NULL");
    INFO("stdout: " << run.out << "\nstderr: " << run.err);
    CHECK(run.exit_code == 0);
  }
  db->execute("SET DEFAULT ROLE NONE FOR 'priv_user'@'127.0.0.1'");
  mysql_fresh_table(*db, "priv_less");
  const RunResult run = alter_as_user(ServerKind::mysql, "priv_less", "MODIFY v BIGINT NOT NULL");
  check_refused_naming(run, "REPLICATION SLAVE");
  CHECK(run.err.find("SET DEFAULT ROLE `priv_outer` FOR 'priv_user'@'127.0.0.1'") !=
        std::string::npos);
  CHECK(db->query("SHOW TABLES LIKE 'priv\\_less\\_sluice\\_new'").empty());
  db->execute("DROP USER 'priv_user'@'127.0.0.1'");
  db->execute("DROP ROLE priv_outer");
  db->execute("DROP ROLE priv_inner");
}

TEST_CASE("PostgreSQL: the documented privileges suffice, and each one less is named") {
  auto db = postgres_admin();
  pg_grant_documented(*db);
  pg_fresh_table(*db, "priv_ok");
  // The role creates its own metadata schema (CREATE on the database allows that).
  const std::vector<std::string> metadata = {"--metadata-schema", "priv_meta"};
  {
    const RunResult run =
        alter_as_user(ServerKind::postgres, "priv_ok", "ALTER COLUMN v TYPE bigint", metadata);
    INFO("stdout: " << run.out << "\nstderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(db->query_value("SELECT count(*) FROM priv_ok") == "2000");
  }
  struct Less {
    std::string take;
    std::string give_back;
    std::string named;
  };
  const std::vector<Less> cases = {
      {"ALTER ROLE priv_user NOREPLICATION", "ALTER ROLE priv_user REPLICATION", "REPLICATION"},
      {"ALTER TABLE priv_less OWNER TO postgres; GRANT ALL ON priv_less TO priv_user", "",
       "ownership of the table"},
      {"REVOKE CREATE ON DATABASE sluice_test FROM priv_user",
       "GRANT CREATE ON DATABASE sluice_test TO priv_user", "CREATE on the database"},
      {"REVOKE CREATE ON SCHEMA public FROM priv_user",
       "GRANT CREATE ON SCHEMA public TO priv_user", "CREATE on schema"},
  };
  for (const Less& less : cases) {
    CAPTURE(less.named);
    pg_fresh_table(*db, "priv_less");
    db->execute(less.take);
    check_refused_naming(
        alter_as_user(ServerKind::postgres, "priv_less", "ALTER COLUMN v TYPE bigint", metadata),
        less.named);
    CHECK_FALSE(db->query_value("SELECT to_regclass('_priv_less_new')::text").has_value());
    if (!less.give_back.empty()) {
      db->execute(less.give_back);
    }
  }
  db->execute(
      "DROP TABLE priv_ok, _priv_ok_old, priv_less; DROP SCHEMA priv_meta CASCADE; REVOKE CREATE "
      "ON DATABASE sluice_test FROM priv_user; REVOKE CREATE ON SCHEMA public FROM priv_user; "
      "DROP ROLE priv_user");
}

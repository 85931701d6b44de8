// `sluice check` against a real MariaDB: every precondition flipped on a real table or server.
#include <doctest/doctest.h>

#include "integration/check_report.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::mysql);
}

void recreate(const std::string& table, const std::string& body) {
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS " + table);
  db->execute("CREATE TABLE " + table + " " + body);
}

}  // namespace

TEST_CASE("a table with a primary key on a correctly configured server is ready") {
  recreate("chk_ready", "(id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB");
  CheckReport report = run_check(dsn(), "chk_ready");
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 0);
  CHECK(report.json["ready"] == true);
  for (const char* name :
       {"table", "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id",
        "replication_privileges", "table_privileges", "key", "triggers", "foreign_keys",
        "generated_columns", "binlog_retention"}) {
    CHECK_MESSAGE(report.status(name) == "pass", name);
  }
  CHECK(report.json["table"] == "`sluice_test`.`chk_ready`");
}

TEST_CASE("the human report names every check and ends with the verdict") {
  recreate("chk_human", "(id INT PRIMARY KEY)");
  RunResult run = run_sluice({"check", "--dsn", dsn(), "--table", "chk_human"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("PASS  binlog_format") != std::string::npos);
  CHECK(run.out.find("ready: `sluice_test`.`chk_human` can be migrated online.") !=
        std::string::npos);
}

TEST_CASE("a table without any key fails the key check with exit code 5") {
  recreate("chk_nokey", "(a INT, b INT)");
  CheckReport report = run_check(dsn(), "chk_nokey");
  CHECK(report.exit_code == 5);
  CHECK(report.json["ready"] == false);
  CHECK(report.status("key") == "fail");
}

TEST_CASE("a unique key on NOT NULL columns is usable; on nullable columns it is not") {
  recreate("chk_uk", "(a INT NOT NULL, b INT NOT NULL, UNIQUE KEY ab (a, b))");
  CheckReport usable = run_check(dsn(), "chk_uk");
  CHECK(usable.status("key") == "pass");
  CHECK(usable.message("key").find("`ab`") != std::string::npos);
  recreate("chk_uk_null", "(a INT NULL, UNIQUE KEY a (a))");
  CHECK(run_check(dsn(), "chk_uk_null").status("key") == "fail");
}

TEST_CASE("triggers on the table are reported") {
  recreate("chk_trig", "(id INT PRIMARY KEY, n INT)");
  mysql_admin()->execute(
      "CREATE TRIGGER chk_trig_bi BEFORE INSERT ON chk_trig FOR EACH ROW SET NEW.n = 1");
  CheckReport report = run_check(dsn(), "chk_trig");
  CHECK(report.exit_code == 5);
  CHECK(report.status("triggers") == "fail");
  CHECK(report.message("triggers").find("chk_trig_bi") != std::string::npos);
}

TEST_CASE("foreign keys are reported in both directions") {
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS chk_child");
  recreate("chk_parent", "(id INT PRIMARY KEY)");
  db->execute(
      "CREATE TABLE chk_child (id INT PRIMARY KEY, parent_id INT, CONSTRAINT fk_parent FOREIGN "
      "KEY (parent_id) REFERENCES chk_parent (id))");
  CheckReport parent = run_check(dsn(), "chk_parent");
  CHECK(parent.status("foreign_keys") == "fail");
  CHECK(parent.message("foreign_keys").find("other tables reference it") != std::string::npos);
  CheckReport child = run_check(dsn(), "chk_child");
  CHECK(child.status("foreign_keys") == "fail");
  CHECK(child.message("foreign_keys").find("it references other tables") != std::string::npos);
  db->execute("DROP TABLE chk_child");
}

TEST_CASE("generated columns are reported as recomputed, not as a blocker") {
  recreate("chk_gen", "(id INT PRIMARY KEY, a INT, doubled INT AS (a * 2) VIRTUAL)");
  CheckReport report = run_check(dsn(), "chk_gen");
  CHECK(report.exit_code == 0);
  CHECK(report.status("generated_columns") == "pass");
  CHECK(report.message("generated_columns").find("`doubled`") != std::string::npos);
}

TEST_CASE("a non-InnoDB table fails the table check") {
  recreate("chk_myisam", "(id INT PRIMARY KEY) ENGINE=MyISAM");
  CheckReport report = run_check(dsn(), "chk_myisam");
  CHECK(report.status("table") == "fail");
  CHECK(report.message("table").find("MyISAM") != std::string::npos);
}

TEST_CASE("names with backticks, quotes, semicolons, spaces and unicode are quoted, not injected") {
  auto db = mysql_admin();
  const std::string weird = "we`ird 'na\"me; DROP TABLE chk_ready; \xc3\xa4\xe6\x97\xa5";
  const std::string quoted = "`we``ird 'na\"me; DROP TABLE chk_ready; \xc3\xa4\xe6\x97\xa5`";
  db->execute("DROP TABLE IF EXISTS " + quoted);
  db->execute("CREATE TABLE " + quoted + " (id INT PRIMARY KEY)");
  CheckReport report = run_check(dsn(), quoted);
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 0);
  CHECK(report.json["table"] == "`sluice_test`." + quoted);
  db->execute("DROP TABLE " + quoted);
}

TEST_CASE("a user without replication privileges is told which grant is missing") {
  auto db = mysql_admin();
  recreate("chk_priv", "(id INT PRIMARY KEY)");
  db->execute("DROP USER IF EXISTS 'chk_norepl'@'127.0.0.1'");
  db->execute("CREATE USER 'chk_norepl'@'127.0.0.1' IDENTIFIED BY 'Secret-pw-1'");
  db->execute("GRANT SELECT ON sluice_test.* TO 'chk_norepl'@'127.0.0.1'");
  std::string user_dsn = dsn();
  user_dsn.replace(user_dsn.find("root@"), 5, "chk_norepl@");
  CheckReport report = run_check(user_dsn, "chk_priv", {{"MYSQL_PWD", "Secret-pw-1"}});
  CHECK(report.exit_code == 5);
  CHECK(report.status("replication_privileges") == "fail");
  CHECK(report.message("replication_privileges").find("REPLICATION SLAVE") != std::string::npos);

  db->execute("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'chk_norepl'@'127.0.0.1'");
  CHECK(run_check(user_dsn, "chk_priv", {{"MYSQL_PWD", "Secret-pw-1"}})
            .status("replication_privileges") == "pass");

  SUBCASE("a wrong password is one line, exit code 3, and the password is never echoed") {
    RunResult run = run_sluice({"check", "--dsn", user_dsn, "--table", "chk_priv"},
                               {{"MYSQL_PWD", "Wrong-pw-9"}});
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("refused the login") != std::string::npos);
    CHECK(run.err.find("Wrong-pw-9") == std::string::npos);
    CHECK(run.out.empty());
  }
  db->execute("DROP USER 'chk_norepl'@'127.0.0.1'");
}

TEST_CASE("bad input: one clear line and a documented exit code") {
  SUBCASE("unknown table") {
    RunResult run = run_sluice({"check", "--dsn", dsn(), "--table", "no_such_table"});
    CHECK(run.exit_code == 4);
    CHECK(run.err.find("does not exist") != std::string::npos);
  }
  SUBCASE("unknown database") {
    std::string other = dsn();
    other.replace(other.rfind('/'), std::string::npos, "/no_such_db");
    RunResult run = run_sluice({"check", "--dsn", other, "--table", "t"});
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("database 'no_such_db' does not exist") != std::string::npos);
  }
  SUBCASE("refused connection") {
    RunResult run = run_sluice({"check", "--dsn", "mysql://root@127.0.0.1:1/x", "--table", "t"});
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("cannot connect") != std::string::npos);
  }
  SUBCASE("malformed DSN and missing options") {
    CHECK(run_sluice({"check", "--dsn", "mysql://root@h:x/db", "--table", "t"}).exit_code == 2);
    CHECK(run_sluice({"check", "--dsn", dsn()}).exit_code == 2);
    CHECK(run_sluice({"check", "--bogus"}).exit_code == 2);
  }
  SUBCASE("a password inside the DSN is refused before connecting") {
    RunResult run =
        run_sluice({"check", "--dsn", "mysql://root:pw123@127.0.0.1/x", "--table", "t"});
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("pw123") == std::string::npos);
  }
}

// MariaDB clamps server_id to at least 1, so server_id = 0 (refused by MySQL) cannot be staged
// here.
TEST_CASE("a server without binary log, ROW format, FULL images and row metadata fails each") {
  PrivateServer server(ServerKind::mysql,
                       "--skip-log-bin --binlog-format=STATEMENT --binlog-row-image=MINIMAL "
                       "--binlog-row-metadata=MINIMAL --binlog-expire-logs-seconds=3600");
  sluice::mysql::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  db.execute("CREATE TABLE t (id INT PRIMARY KEY)");
  CheckReport report = run_check(server.dsn(), "t");
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 5);
  for (const char* name : {"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata"}) {
    CHECK_MESSAGE(report.status(name) == "fail", name);
  }
  // Binlogs kept an hour shorten sluice revert's window: a warning, not a failure.
  CHECK(report.status("binlog_retention") == "warn");
  CHECK(report.status("key") == "pass");
}

TEST_CASE("check and alter agree on every refusal the table, its leftovers or the grants cause") {
  auto db = mysql_admin();
  const std::string copy = "MODIFY v VARCHAR(40)";
  const auto standard = [&](const std::string& table) {
    recreate(table, "(id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB");
    db->execute("INSERT INTO " + table + " VALUES (1, 'a'), (2, 'b')");
  };
  SUBCASE("ready tables, integer or character keyed") {
    standard("agr_ready");
    require_agreement(dsn(), "agr_ready", copy);
    recreate("agr_varchar", "(code VARCHAR(20) PRIMARY KEY, v VARCHAR(20))");
    db->execute("INSERT INTO agr_varchar VALUES ('a', 'x'), ('B', 'y')");
    require_agreement(dsn(), "agr_varchar", copy);
  }
  SUBCASE("no usable key") {
    recreate("agr_nokey", "(a INT NULL, v VARCHAR(20), UNIQUE KEY a (a))");
    require_agreement(dsn(), "agr_nokey", copy);
  }
  SUBCASE("a trigger") {
    standard("agr_trigger");
    db->execute(
        "CREATE TRIGGER agr_trigger_t BEFORE INSERT ON agr_trigger FOR EACH ROW SET "
        "NEW.v = 'x'");
    require_agreement(dsn(), "agr_trigger", copy);
  }
  SUBCASE("partitioned, MyISAM, a view") {
    recreate("agr_parts", "(id INT PRIMARY KEY, v VARCHAR(20)) PARTITION BY HASH(id) PARTITIONS 2");
    require_agreement(dsn(), "agr_parts", copy);
    recreate("agr_myisam", "(id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=MyISAM");
    require_agreement(dsn(), "agr_myisam", copy);
    standard("agr_base");
    db->execute("CREATE OR REPLACE VIEW agr_view AS SELECT * FROM agr_base");
    require_agreement(dsn(), "agr_view", copy);
  }
  SUBCASE("a leftover shadow table, a sentry, a table at the sentry's name") {
    standard("agr_shadow");
    db->execute("DROP TABLE IF EXISTS agr_shadow_sluice_new");
    db->execute("CREATE TABLE agr_shadow_sluice_new LIKE agr_shadow");
    require_agreement(dsn(), "agr_shadow", copy);
    db->execute("DROP TABLE agr_shadow_sluice_new");
    db->execute("CREATE TABLE agr_shadow_sluice_old (x INT) COMMENT 'sluice cut-over sentry'");
    require_agreement(dsn(), "agr_shadow", copy);
    db->execute("DROP TABLE agr_shadow_sluice_old");
    db->execute("CREATE TABLE agr_shadow_sluice_old (x INT)");
    require_agreement(dsn(), "agr_shadow", copy);
    db->execute("DROP TABLE agr_shadow_sluice_old");
  }
  SUBCASE("a name too long for the helper tables") {
    const std::string table(60, 'l');
    standard(table);
    require_agreement(dsn(), table, copy);
    db->execute("DROP TABLE " + table);
  }
  SUBCASE("a user without replication privileges") {
    standard("agr_grants");
    db->execute("DROP USER IF EXISTS 'agr_user'@'127.0.0.1'");
    db->execute("CREATE USER 'agr_user'@'127.0.0.1' IDENTIFIED BY 'Secret-pw-2'");
    db->execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, LOCK TABLES ON "
        "sluice_test.* TO 'agr_user'@'127.0.0.1'");
    std::string user_dsn = dsn();
    user_dsn.replace(user_dsn.find("root@"), 5, "agr_user@");
    require_agreement(user_dsn, "agr_grants", copy, {{"MYSQL_PWD", "Secret-pw-2"}});
    db->execute("DROP USER 'agr_user'@'127.0.0.1'");
  }
}

// A server of its own: the shared one may have the plugin installed by another test already.
TEST_CASE("check warns when the cut-over cannot see metadata locks, and passes once it can") {
  PrivateServer server(ServerKind::mysql, "");
  sluice::mysql::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  db.execute("CREATE TABLE chk_guard (id INT PRIMARY KEY)");
  if (!db.query("SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = "
                "'METADATA_LOCK_INFO'")
           .empty()) {
    db.execute("UNINSTALL SONAME 'metadata_lock_info'");
  }
  CheckReport before = run_check(server.dsn(), "chk_guard");
  INFO(before.json.dump(2));
  CHECK(before.exit_code == 0);
  CHECK(before.status("cutover_guard") == "warn");
  db.execute("INSTALL SONAME 'metadata_lock_info'");
  CheckReport after = run_check(server.dsn(), "chk_guard");
  INFO(after.json.dump(2));
  CHECK(after.status("cutover_guard") == "pass");
}

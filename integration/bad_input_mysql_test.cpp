// Hostile and bad input to `sluice alter --execute` on a real MariaDB: every case is refused
// with one line on stderr that says what is wrong and how to fix it, with its documented exit
// code, and the database is left exactly as it was (same definition and rows, no shadow table,
// sentry or old table, no phase-metadata record).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::mysql);
}

// The DSN with another user, host, port or database.
std::string dsn_with(const std::string& from, const std::string& to) {
  std::string changed = dsn();
  changed.replace(changed.find(from), from.size(), to);
  return changed;
}

// Everything a run could have changed about `table`: its definition, a checksum of its rows,
// the tables named after it (shadow, sentry, old table) and its phase-metadata records.
std::string table_state(sluice::mysql::Connection& db, const std::string& table) {
  std::string state;
  for (const auto& row : db.query("SHOW CREATE TABLE `" + table + "`")) {
    state += row.at(1).value_or("") + "\n";
  }
  for (const auto& row : db.query("CHECKSUM TABLE `" + table + "`")) {
    state += "checksum " + row.at(1).value_or("NULL") + "\n";
  }
  for (const std::string& name :
       {table + "_sluice_new", table + "_sluice_old", "_" + table + "_old"}) {
    if (!db.query("SHOW TABLES LIKE " + db.quote_literal(name)).empty()) {
      state += "table " + name + "\n";
    }
  }
  if (!db.query("SHOW TABLES LIKE 'sluice_migrations'").empty()) {
    state += "records " +
             db.query_value("SELECT COUNT(*) FROM sluice_migrations WHERE table_name = " +
                            db.quote_literal("`sluice_test`.`" + table + "`"))
                 .value_or("?") +
             "\n";
  }
  return state;
}

void recreate(sluice::mysql::Connection& db, const std::string& table, const std::string& body) {
  for (const std::string& name :
       {table, table + "_sluice_new", table + "_sluice_old", "_" + table + "_old"}) {
    db.execute("DROP TABLE IF EXISTS `" + name + "`");
  }
  db.execute("CREATE TABLE `" + table + "` " + body);
}

// The standard table of a case: a primary key and 100 rows, one duplicated value in `k`.
void standard_table(sluice::mysql::Connection& db, const std::string& table) {
  recreate(db, table, "(id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(20)) ENGINE=InnoDB");
  db.execute("INSERT INTO `" + table +
             "` SELECT seq, seq % 50, CONCAT('v', seq) FROM seq_1_to_100");
}

struct BadInput {
  const char* what;
  // Prepares the case's table (named `bi_<n>`); the standard table when empty.
  std::string table_body{};
  std::vector<std::string> setup{};  // statements run after the table is created
  std::string alter = "MODIFY v VARCHAR(40)";
  std::vector<std::string> options{};  // extra options of `sluice alter`
  std::string dsn_from{};              // replaced in the DSN by dsn_to
  std::string dsn_to{};
  std::map<std::string, std::string> env{};
  std::string table_option{};  // --table, when not the case's table
  int exit_code = 0;
  std::string reason{};
};

}  // namespace

TEST_CASE("bad input to sluice alter is refused in one line and changes nothing") {
  auto db = mysql_admin();
  db->execute("DROP USER IF EXISTS 'bi_user'@'127.0.0.1'");
  db->execute("CREATE USER 'bi_user'@'127.0.0.1' IDENTIFIED BY 'Right-pw-1'");
  db->execute("GRANT ALL ON *.* TO 'bi_user'@'127.0.0.1'");
  const std::vector<BadInput> cases = {
      {.what = "malformed DSN (port not a number)",
       .dsn_from = "127.0.0.1:",
       .dsn_to = "127.0.0.1:x",
       .exit_code = 2,
       .reason = "port"},
      {.what = "malformed DSN (unknown scheme)",
       .dsn_from = "mysql://",
       .dsn_to = "mysqlx://",
       .exit_code = 2,
       .reason = "mysql://"},
      {.what = "password in the DSN",
       .dsn_from = "root@",
       .dsn_to = "root:Dsn-pw-3@",
       .exit_code = 2,
       .reason = "MYSQL_PWD"},
      {.what = "wrong password",
       .dsn_from = "root@",
       .dsn_to = "bi_user@",
       .env = {{"MYSQL_PWD", "Wrong-pw-9"}},
       .exit_code = 3,
       .reason = "refused the login"},
      {.what = "unreachable host (nothing listens)",
       .dsn_from = "127.0.0.1:",
       .dsn_to = "127.0.0.1:1#",
       .exit_code = 3,
       .reason = "cannot connect"},
      {.what = "unknown host name",
       .dsn_from = "127.0.0.1",
       .dsn_to = "no-such-host.invalid",
       .exit_code = 3,
       .reason = "cannot connect"},
      {.what = "unknown database",
       .dsn_from = "/sluice_test",
       .dsn_to = "/no_such_db",
       .exit_code = 3,
       .reason = "database 'no_such_db' does not exist"},
      {.what = "unknown table",
       .table_option = "bi_no_such_table",
       .exit_code = 4,
       .reason = "does not exist"},
      {.what = "unknown database in --table",
       .table_option = "no_such_db.t",
       .exit_code = 4,
       .reason = "does not exist"},
      {.what = "a second statement after the ALTER",
       .alter = "ADD COLUMN x INT; DROP TABLE bi_12",
       .exit_code = 2,
       .reason = "second statement"},
      {.what = "a partitioning clause",
       .alter = "PARTITION BY HASH(id) PARTITIONS 2",
       .exit_code = 2,
       .reason = "PARTITION"},
      {.what = "ALGORITHM= (sluice chooses)",
       .alter = "MODIFY v VARCHAR(40), ALGORITHM=INPLACE",
       .exit_code = 2,
       .reason = "ALGORITHM"},
      {.what = "a table rename",
       .alter = "RENAME TO bi_renamed",
       .exit_code = 2,
       .reason = "RENAME"},
      {.what = "an executable comment",
       .alter = "/*!50000 DROP COLUMN v */",
       .exit_code = 2,
       .reason = "comment"},
      {.what = "dropping the primary key",
       .alter = "DROP PRIMARY KEY",
       .exit_code = 5,
       .reason = "primary key"},
      {.what = "ADD UNIQUE on duplicated data without --discard-duplicates",
       .alter = "ADD UNIQUE KEY uk (k)",
       .exit_code = 5,
       .reason = "--discard-duplicates"},
      {.what = "a table without a usable key",
       .table_body = "(a INT NULL, b INT NULL, UNIQUE KEY a (a))",
       .alter = "MODIFY b BIGINT",
       .exit_code = 5,
       .reason = "no PRIMARY KEY"},
      {.what = "a table with a trigger",
       .setup = {"CREATE TRIGGER bi_18_trigger BEFORE INSERT ON bi_18 FOR EACH ROW SET NEW.k = 1"},
       .exit_code = 5,
       .reason = "triggers"},
      {.what = "a partitioned table",
       .table_body = "(id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(20)) PARTITION BY HASH(id) "
                     "PARTITIONS 3",
       .exit_code = 5,
       .reason = "partitioned"},
      {.what = "a leftover shadow table from an earlier crash",
       .setup = {"CREATE TABLE bi_20_sluice_new LIKE bi_20"},
       .exit_code = 5,
       .reason = "sluice cleanup"},
      {.what = "a leftover cut-over sentry (or a table of that name)",
       .setup = {"CREATE TABLE bi_21_sluice_old LIKE bi_21"},
       .exit_code = 5,
       .reason = "the cut-over needs that name"},
      {.what = "an ALTER naming a column the table lacks",
       .alter = "MODIFY nosuchcol INT",
       .exit_code = 2,
       .reason = "the ALTER does not apply to `sluice_test`.`bi_22` (Unknown column 'nosuchcol'"},
      {.what = "an ALTER adding a column the table has",
       .alter = "ADD COLUMN v INT",
       .exit_code = 2,
       .reason = "(Duplicate column name 'v'); fix --alter"},
  };
  int number = 0;
  for (const BadInput& input : cases) {
    ++number;
    const std::string table = "bi_" + std::to_string(number);
    CAPTURE(input.what);
    if (input.table_body.empty()) {
      standard_table(*db, table);
    } else {
      recreate(*db, table, input.table_body);
    }
    for (const std::string& statement : input.setup) {
      db->execute(statement);
    }
    const std::string before = table_state(*db, table);
    std::string target_dsn = dsn();
    if (!input.dsn_from.empty()) {
      target_dsn = dsn_with(input.dsn_from, input.dsn_to);
      // "#" ends a replaced port: drop the rest of the original port number.
      if (const std::size_t hash = target_dsn.find('#'); hash != std::string::npos) {
        target_dsn.erase(hash, target_dsn.find('/', hash) - hash);
      }
    }
    std::vector<std::string> args = {"alter",
                                     "--dsn",
                                     target_dsn,
                                     "--table",
                                     input.table_option.empty() ? table : input.table_option,
                                     "--alter",
                                     input.alter,
                                     "--execute"};
    args.insert(args.end(), input.options.begin(), input.options.end());
    check_refusal(run_sluice(args, input.env), input.exit_code, input.reason);
    CHECK(table_state(*db, table) == before);
  }
  db->execute("DROP USER 'bi_user'@'127.0.0.1'");
}

TEST_CASE("a server writing STATEMENT or MINIMAL binlogs is refused before anything is created") {
  for (const auto& [settings, reason] : std::vector<std::pair<std::string, std::string>>{
           {"--binlog-format=STATEMENT", "binlog_format is STATEMENT"},
           {"--binlog-row-image=MINIMAL", "binlog_row_image is MINIMAL"}}) {
    CAPTURE(settings);
    PrivateServer server(ServerKind::mysql, settings);
    sluice::mysql::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
    standard_table(db, "bi_server");
    const std::string before = table_state(db, "bi_server");
    check_refusal(run_sluice({"alter", "--dsn", server.dsn(), "--table", "bi_server", "--alter",
                              "MODIFY v VARCHAR(40)", "--execute"}),
                  5, reason);
    CHECK(table_state(db, "bi_server") == before);
  }
}

TEST_CASE("a second sluice on the same table is refused while the first runs") {
  auto db = mysql_admin();
  standard_table(*db, "bi_twice");
  const std::filesystem::path throttle =
      std::filesystem::temp_directory_path() / ("sluice-bi-twice-" + std::to_string(getpid()));
  std::ofstream(throttle).put('\n');
  SluiceProcess first({"alter", "--dsn", dsn(), "--table", "bi_twice", "--alter",
                       "MODIFY v VARCHAR(40)", "--execute", "--force-rebuild", "--json",
                       "--throttle-flag-file", throttle.string(), "--status-interval", "0.2"});
  REQUIRE(first.wait_for("\"state\":\"paused\"", 60s));
  const std::string during = table_state(*db, "bi_twice");
  RunResult second = run_sluice({"alter", "--dsn", dsn(), "--table", "bi_twice", "--alter",
                                 "MODIFY v VARCHAR(50)", "--execute"});
  check_refusal(second, 5, "is running");
  CHECK(table_state(*db, "bi_twice") == during);
  std::filesystem::remove(throttle);
  CHECK(first.wait(60s) == 0);
  CHECK(db->query_value("SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS WHERE "
                        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'bi_twice' AND COLUMN_NAME = "
                        "'v'") == "40");
}

TEST_CASE("a DSN of one server kind at the other server's port is named in one sentence, exit 3") {
  const sluice::Dsn mysql = sluice::parse_dsn(server_dsn(ServerKind::mysql));
  const sluice::Dsn postgres = sluice::parse_dsn(server_dsn(ServerKind::postgres));
  const std::string mysql_at_pg =
      "mysql://root@" + postgres.host + ":" + std::to_string(postgres.port) + "/sluice_test";
  check_refusal(run_sluice({"check", "--dsn", mysql_at_pg, "--table", "t"}), 3,
                "speaks the PostgreSQL protocol, not MySQL's; check the port, or use a "
                "postgres:// DSN");
  const std::string pg_at_mysql =
      "postgres://postgres@" + mysql.host + ":" + std::to_string(mysql.port) + "/sluice_test";
  for (const std::string& dsn : {pg_at_mysql, pg_at_mysql + "?sslmode=disable"}) {
    CAPTURE(dsn);
    check_refusal(run_sluice({"check", "--dsn", dsn, "--table", "t"}), 3,
                  "does not speak the PostgreSQL protocol (a MySQL or MariaDB server?)");
  }
}

TEST_CASE("a dry run tries the ALTER: one the server refuses exits 2 and records nothing") {
  auto db = mysql_admin();
  standard_table(*db, "bi_dry");
  const std::string before = table_state(*db, "bi_dry");
  check_refusal(
      run_sluice({"alter", "--dsn", dsn(), "--table", "bi_dry", "--alter", "MODIFY nosuchcol INT"}),
      2, "(Unknown column 'nosuchcol' in 'bi_dry_sluice_chk'); fix --alter");
  CHECK(table_state(*db, "bi_dry") == before);
  // The temporary copy lived only in the dry run's session.
  const RunResult good =
      run_sluice({"alter", "--dsn", dsn(), "--table", "bi_dry", "--alter", "MODIFY v VARCHAR(40)"});
  CHECK(good.exit_code == 0);
  CHECK(good.out.find("kept as `sluice_test`.`_bi_dry_old`") != std::string::npos);
  const RunResult instant =
      run_sluice({"alter", "--dsn", dsn(), "--table", "bi_dry", "--alter", "ADD COLUMN w INT"});
  CHECK(instant.exit_code == 0);
  CHECK(instant.out.find("without an old table; if it cannot, the original table is kept") !=
        std::string::npos);
  CHECK(table_state(*db, "bi_dry") == before);
}

TEST_CASE("rows the new definition cannot hold are named in one sentence, exit 5") {
  auto db = mysql_admin();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ADD CONSTRAINT bi_k_small CHECK (k < 10)", "CONSTRAINT `bi_k_small` failed"},
      {"MODIFY k TINYINT UNSIGNED", "Out of range value for column 'k'"},
  };
  int number = 0;
  for (const auto& [alter, reason] : cases) {
    CAPTURE(alter);
    // Two runs may start within the same second, which would give them the same default name.
    const std::string name = "bi-data-" + std::to_string(getpid()) + "-" + std::to_string(++number);
    standard_table(*db, "bi_data");
    db->execute("UPDATE bi_data SET k = k * 1000");
    const std::string definition = db->query("SHOW CREATE TABLE bi_data").at(0).at(1).value_or("");
    // The run got as far as the copy, so its progress is logged before the one error line.
    const RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "bi_data", "--alter",
                                      alter, "--execute", "--force-rebuild", "--name", name});
    CHECK(run.exit_code == 5);
    CHECK(run.err.find("\nsluice: error: ") != std::string::npos);
    CHECK(run.err.find(reason) != std::string::npos);
    CHECK(run.err.find("running:") == std::string::npos);
    CHECK(db->query("SHOW CREATE TABLE bi_data").at(0).at(1).value_or("") == definition);
    CHECK(db->query("SHOW TABLES LIKE 'bi_data_sluice_new'").empty());
  }
}

TEST_CASE("sluice run of a migration naming a missing column exits 4 in one sentence") {
  auto db = mysql_admin();
  standard_table(*db, "bi_run");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sluice-bi-run-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "01-index.ini")
      << "table = bi_run\noperation = add-index\nindex-columns = custmer_id\n";
  const RunResult run = run_sluice({"run", "--dsn", dsn(), dir.string()});
  CHECK(run.exit_code == 4);
  CHECK(run.out.find("failed\tthe server does not know a name it was given (Key column "
                     "'custmer_id' doesn't exist in table); check the names") != std::string::npos);
  CHECK(run.out.find("running:") == std::string::npos);
  std::filesystem::remove_all(dir);
}

// `sluice alter` against a real MariaDB while an application writes: every run ends with a full
// row-for-row comparison of the migrated table with a twin table that received the same writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "integration/row_diff.h"
#include "integration/support.h"
#include "integration/table_writer.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::mysql);
}

bool exists(sluice::mysql::Connection& db, const std::string& table) {
  return !db.query("SHOW TABLES LIKE " + db.quote_literal(table)).empty();
}

// Migrates `table` with `alter` while a writer runs, then compares it with its twin.
RunResult migrate_under_load(const std::string& table, const std::string& alter, int rows,
                             bool composite, const std::vector<std::string>& extra = {}) {
  auto db = mysql_admin();
  const std::string twin = table + "_twin";
  create_typed_table(*db, table, twin, rows, composite);
  TableWriter writer(sluice::parse_dsn(dsn()), table, twin);
  writer.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<std::string> args = {"alter",   "--dsn", dsn(),       "--table",      table,
                                   "--alter", alter,   "--execute", "--chunk-time", "20"};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult run = run_sluice(args);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.stop();
  INFO("sluice stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(writer.transactions() > 0);
  MESSAGE(table << ": the writer committed " << writer.transactions() << " transactions, retried "
                << writer.deadlocks() << " after a deadlock error");
  const bool drops_old = std::find(extra.begin(), extra.end(), "--drop-old-table") != extra.end();
  CHECK(exists(*db, "_" + table + "_old") != drops_old);
  CHECK_FALSE(exists(*db, table + "_sluice_new"));
  const auto migrated = table_rows(*db, table, twin);
  const auto expected = table_rows(*db, twin, table);
  CHECK(migrated.size() == expected.size());
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  return run;
}

std::string column_type(const std::string& table, const std::string& column) {
  auto db = mysql_admin();
  return db
      ->query_value(
          "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
          "DATABASE() AND TABLE_NAME = " +
          db->quote_literal(table) + " AND COLUMN_NAME = " + db->quote_literal(column))
      .value_or("");
}

}  // namespace

TEST_CASE("change a column type (INT to BIGINT) under concurrent writes") {
  RunResult run = migrate_under_load("alt_k", "MODIFY k BIGINT NOT NULL DEFAULT 0", 20000, false);
  CHECK(column_type("alt_k", "k") == "bigint(20)");
  CHECK(run.out.find("rows verified") != std::string::npos);
}

TEST_CASE("add a column with a default, drop a column, widen a VARCHAR, add an index") {
  migrate_under_load("alt_multi",
                     "ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'n/a', DROP COLUMN legacy, "
                     "MODIFY name VARCHAR(200) CHARACTER SET utf8mb4 NULL, ADD INDEX k_idx (k)",
                     8000, false, {"--force-rebuild"});
  CHECK(column_type("alt_multi", "name") == "varchar(200)");
  CHECK(column_type("alt_multi", "note") == "varchar(20)");
  CHECK(column_type("alt_multi", "legacy").empty());
}

TEST_CASE("an added column whose default is the statement's time gives existing rows one value") {
  migrate_under_load("alt_now",
                     "ADD COLUMN added_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
                     "ADD COLUMN token CHAR(36) NOT NULL DEFAULT (UUID()), MODIFY k BIGINT NOT "
                     "NULL DEFAULT 0",
                     20000, false);
  auto db = mysql_admin();
  // The rows that were in the table until the swap (the old table has them, with the same code):
  // what the server's own ALTER would have given them. Rows the writer inserted after the swap
  // take the default themselves and are left out.
  const std::string existing =
      " FROM alt_now n JOIN _alt_now_old o ON o.id = n.id AND o.code = n.code";
  CHECK(db->query_value("SELECT COUNT(*)" + existing).value_or("0") != "0");
  CHECK(db->query_value("SELECT COUNT(DISTINCT n.added_at)" + existing) == "1");
  // A per-row default stays per row.
  CHECK(db->query_value("SELECT COUNT(DISTINCT n.token) > 1000" + existing) == "1");
}

TEST_CASE("a composite primary key") {
  migrate_under_load("alt_comp", "MODIFY k BIGINT NOT NULL DEFAULT 0, ADD INDEX (amount)", 6000,
                     true);
  CHECK(column_type("alt_comp", "k") == "bigint(20)");
}

TEST_CASE("a DECIMAL scale change verifies through casts and keeps every value") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_dec", "alt_dec_twin", 3000, false);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_dec", "--alter",
                              "MODIFY amount DECIMAL(14,4) NULL", "--execute"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(db->query_value("SELECT COUNT(*) FROM alt_dec a JOIN alt_dec_twin t ON t.id = a.id AND "
                        "t.amount <=> a.amount")
            .value_or("") == "3000");
}

TEST_CASE("an empty table and a table of one row") {
  migrate_under_load("alt_empty", "ENGINE=InnoDB", 0, false);
  const RunResult one = migrate_under_load("alt_one", "MODIFY k BIGINT NOT NULL DEFAULT 0", 1,
                                           false, {"--drop-old-table"});
  CHECK(one.out.find("the old table was dropped") != std::string::npos);
}

TEST_CASE("a dry run prints the plan and creates nothing") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_dry", "alt_dry_twin", 10, false);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_dry", "--alter",
                              "MODIFY k BIGINT NOT NULL DEFAULT 0, DROP COLUMN data"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("key the copy walks: PRIMARY (`id`)") != std::string::npos);
  CHECK(run.out.find("columns dropped:    `data`") != std::string::npos);
  CHECK(run.out.find("CREATE TABLE `sluice_test`.`alt_dry_sluice_new` LIKE") != std::string::npos);
  CHECK(run.out.find("dry run: nothing was changed") != std::string::npos);
  CHECK_FALSE(exists(*db, "alt_dry_sluice_new"));
  CHECK(column_type("alt_dry", "k") == "int(11)");
}

TEST_CASE("an ADD COLUMN the server can apply in place is applied instantly") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_instant", "alt_instant_twin", 100, false);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_instant", "--alter",
                              "ADD COLUMN extra INT NULL", "--execute"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("applied the change in place") != std::string::npos);
  CHECK(column_type("alt_instant", "extra") == "int(11)");
  CHECK_FALSE(exists(*db, "_alt_instant_old"));
}

TEST_CASE("renames and unique keys are refused before anything is created") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_refuse", "alt_refuse_twin", 10, false);
  for (const char* alter : {"RENAME COLUMN k TO k2", "CHANGE k k2 INT", "ADD UNIQUE KEY (k)",
                            "DROP PRIMARY KEY", "ADD COLUMN x INT; DROP TABLE alt_refuse"}) {
    RunResult run = run_sluice(
        {"alter", "--dsn", dsn(), "--table", "alt_refuse", "--alter", alter, "--execute"});
    INFO(alter << ": " << run.err);
    CHECK(run.exit_code != 0);
    CHECK(run.err.find("sluice: error:") != std::string::npos);
    CHECK_FALSE(exists(*db, "alt_refuse_sluice_new"));
    CHECK(exists(*db, "alt_refuse"));
  }
}

TEST_CASE("a cut-over that cannot get its lock leaves the table untouched and retries") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_busy", "alt_busy_twin", 3000, false);
  auto blocker = mysql_admin();
  blocker->execute("LOCK TABLES alt_busy READ");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    blocker->execute("UNLOCK TABLES");
  });
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_busy", "--alter",
                              "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute",
                              "--cutover-lock-timeout", "500", "--cutover-attempts", "10"});
  release.join();
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("cut-over could not lock") != std::string::npos);
  CHECK(table_rows(*db, "alt_busy", "alt_busy_twin") ==
        table_rows(*db, "alt_busy_twin", "alt_busy"));
}

TEST_CASE("the cut-over does not queue its lock while a transaction that read the table is open") {
  auto db = mysql_admin();
  if (db->query("SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = "
                "'METADATA_LOCK_INFO'")
          .empty()) {
    db->execute("INSTALL SONAME 'metadata_lock_info'");
  }
  db->execute(
      "DROP TABLE IF EXISTS alt_reader, _alt_reader_old, alt_reader_sluice_new, "
      "alt_reader_sluice_old");
  db->execute("CREATE TABLE alt_reader (id INT PRIMARY KEY, k INT NOT NULL)");
  db->execute("INSERT INTO alt_reader SELECT seq, seq FROM seq_1_to_2000");
  // An application transaction reads the table, and writes it only once the cut-over has begun.
  auto reader = mysql_admin();
  reader->execute("BEGIN");
  reader->query("SELECT COUNT(*) FROM alt_reader");
  std::future<RunResult> run = std::async(std::launch::async, [] {
    return run_sluice({"alter", "--dsn", dsn(), "--table", "alt_reader", "--alter",
                       "MODIFY k BIGINT NOT NULL", "--execute", "--cutover-lock-timeout", "500",
                       "--cutover-attempts", "100"});
  });
  // The sentry exists from the start of each cut-over attempt to its end: seen, gone, seen
  // again is one attempt that gave up and the next one. A LOCK TABLES queued behind the reader
  // then would make the UPDATE below a metadata-lock deadlock victim (1213).
  int changes = 0;
  bool sentry = false;
  for (int polls = 0; polls < 6000 && changes < 3; ++polls) {
    if (exists(*db, "alt_reader_sluice_old") != sentry) {
      sentry = !sentry;
      ++changes;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  CHECK(changes == 3);
  CHECK_NOTHROW(reader->execute("UPDATE alt_reader SET k = k + 1000000 WHERE id = 7"));
  CHECK_NOTHROW(reader->execute("COMMIT"));
  RunResult result = run.get();
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.err.find("in transactions still open") != std::string::npos);
  CHECK(db->query("SELECT k FROM alt_reader WHERE id = 7").at(0).at(0) == "1000007");
  CHECK(db->query("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                  "DATABASE() AND TABLE_NAME = 'alt_reader' AND COLUMN_NAME = 'k'")
            .at(0)
            .at(0) == "bigint");
}

TEST_CASE("cleanup drops a leftover shadow table and sentry, never the kept old table") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_left", "alt_left_twin", 5, false);
  db->execute("CREATE TABLE alt_left_sluice_new LIKE alt_left");
  RunResult refused = run_sluice(
      {"alter", "--dsn", dsn(), "--table", "alt_left", "--alter", "MODIFY k BIGINT", "--execute"});
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("sluice cleanup") != std::string::npos);
  db->execute("CREATE TABLE alt_left_sluice_old (sentry INT) COMMENT 'sluice cut-over sentry'");
  RunResult cleaned = run_sluice({"cleanup", "--dsn", dsn(), "--table", "alt_left"});
  CHECK(cleaned.exit_code == 0);
  CHECK(cleaned.out.find("dropped `sluice_test`.`alt_left_sluice_new`") != std::string::npos);
  CHECK(cleaned.out.find("dropped `sluice_test`.`alt_left_sluice_old`") != std::string::npos);
  CHECK_FALSE(exists(*db, "alt_left_sluice_new"));
  CHECK_FALSE(exists(*db, "alt_left_sluice_old"));
  db->execute("CREATE TABLE _alt_left_old LIKE alt_left");
  RunResult kept = run_sluice({"cleanup", "--dsn", dsn(), "--table", "alt_left"});
  CHECK(kept.out.find("nothing to clean up") != std::string::npos);
  CHECK(exists(*db, "_alt_left_old"));
}

namespace {

// Adds a row (id 5000000, after the table's keys, before the writer's new ones) to `table` and
// its twin that the writer, started before, never touches, and a switch table for a trap on the
// shadow.
void add_protected_row(sluice::mysql::Connection& db, const std::string& table) {
  for (const std::string& name : {table, table + "_twin"}) {
    db.execute("INSERT INTO `" + name +
               "` (id, code, name, k, legacy) VALUES (5000000, 5000000, 'protected', 1, 7)");
  }
  db.execute("DROP TABLE IF EXISTS `" + table + "_switch`");
  db.execute("CREATE TABLE `" + table + "_switch` (armed INT NOT NULL)");
  db.execute("INSERT INTO `" + table + "_switch` VALUES (1)");
}

// Waits for sluice's shadow table, then puts a trigger on it that writes a wrong `legacy` into
// the protected row whenever it is written to the shadow (`once`: only the first time). The copy
// walks the keys in order and reaches the protected row after the trigger is in place.
std::thread set_shadow_trap(const std::string& table, bool once) {
  return std::thread([table, once] {
    auto db = mysql_admin();
    const std::string shadow = table + "_sluice_new";
    for (int i = 0; i < 2000 && !exists(*db, shadow); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::string disarm = once ? " AND (SELECT armed FROM `" + table +
                                          "_switch`) = 1 THEN UPDATE `" + table +
                                          "_switch` SET armed = 0;"
                                    : " THEN";
    db->execute("CREATE TRIGGER `" + table + "_trap` BEFORE INSERT ON `" + shadow +
                "` FOR EACH ROW BEGIN IF NEW.id = 5000000" + disarm +
                " SET NEW.legacy = -1; END IF; END");
    if (!once) {
      return;
    }
    // Once it has fired the trap goes, so that it does not travel with the shadow table into
    // the application's table at the swap.
    for (int i = 0; i < 6000; ++i) {
      if (db->query_value("SELECT armed FROM `" + table + "_switch`") == "0") {
        db->execute("DROP TRIGGER `" + table + "_trap`");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
}

}  // namespace

TEST_CASE("a key range that differs at verification is copied again, then verified") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_recopy", "alt_recopy_twin", 100000, false);
  TableWriter writer(sluice::parse_dsn(dsn()), "alt_recopy", "alt_recopy_twin");
  writer.start();
  add_protected_row(*db, "alt_recopy");
  std::thread trap = set_shadow_trap("alt_recopy", true);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_recopy", "--alter",
                              "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute"});
  trap.join();
  writer.stop();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  // The trap fired, so the shadow really differed, and the re-copy repaired it.
  CHECK(db->query_value("SELECT armed FROM alt_recopy_switch") == "0");
  CHECK(run.err.find("re-copying keys after") != std::string::npos);
  const auto migrated = table_rows(*db, "alt_recopy", "alt_recopy_twin");
  const auto expected = table_rows(*db, "alt_recopy_twin", "alt_recopy");
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
}

TEST_CASE("a difference that copying again does not repair stops the migration before cut-over") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_differs", "alt_differs_twin", 100000, false);
  TableWriter writer(sluice::parse_dsn(dsn()), "alt_differs", "alt_differs_twin");
  writer.start();
  add_protected_row(*db, "alt_differs");
  std::thread trap = set_shadow_trap("alt_differs", false);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_differs", "--alter",
                              "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute"});
  trap.join();
  writer.stop();
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("verification failed") != std::string::npos);
  CHECK(run.err.find("differs from the original in 1 key ranges") != std::string::npos);
  CHECK_FALSE(exists(*db, "alt_differs_sluice_new"));
  CHECK(column_type("alt_differs", "k") == "int(11)");
  const auto original = table_rows(*db, "alt_differs", "alt_differs_twin");
  const auto expected = table_rows(*db, "alt_differs_twin", "alt_differs");
  CHECK_MESSAGE(original == expected, first_difference(original, expected));
}

TEST_CASE("--discard-duplicates adds a UNIQUE key, keeps one row per value and reports the rest") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_unique", "alt_unique_twin", 20000, false);
  TableWriter writer(sluice::parse_dsn(dsn()), "alt_unique", "alt_unique_twin");
  writer.start();
  // 200 rows the writer never touches, ten for each of 20 values of `legacy`.
  for (const std::string table : {"alt_unique", "alt_unique_twin"}) {
    db->execute("INSERT INTO " + table +
                " (id, code, name, k, legacy) SELECT 5000000 + seq, 5000000 + seq, 'dup', 1, seq "
                "% 20 FROM seq_1_to_200");
  }
  const std::vector<std::string> args = {"alter",
                                         "--dsn",
                                         dsn(),
                                         "--table",
                                         "alt_unique",
                                         "--alter",
                                         "ADD UNIQUE KEY legacy_once (legacy)",
                                         "--execute"};
  RunResult refused = run_sluice(args);
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("--discard-duplicates") != std::string::npos);
  CHECK_FALSE(exists(*db, "alt_unique_sluice_new"));

  std::vector<std::string> discarding = args;
  discarding.push_back("--discard-duplicates");
  RunResult run = run_sluice(discarding);
  writer.stop();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("180 rows were discarded") != std::string::npos);
  CHECK(db->query_value("SELECT COUNT(*) FROM alt_unique WHERE legacy IS NOT NULL") == "20");
  CHECK(db->query_value("SELECT COUNT(DISTINCT legacy) FROM alt_unique") == "20");
  // Apart from the discarded duplicates, the table equals its twin row for row.
  CHECK(db->execute("DELETE FROM alt_unique_twin WHERE id > 5000000 AND id <= 5000200 AND id NOT "
                    "IN (SELECT id FROM alt_unique)") == 180);
  const auto migrated = table_rows(*db, "alt_unique", "alt_unique_twin");
  const auto expected = table_rows(*db, "alt_unique_twin", "alt_unique");
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
}

TEST_CASE("hostile table and column names are quoted everywhere and migrate under writes") {
  auto db = mysql_admin();
  // Backticks, quotes, a semicolon, spaces, a comment marker and multi-byte text.
  const std::string table = "we`ird; 'tab' -- \xc3\xa4";
  const std::string twin = "hostile twin";
  const auto q = [](const std::string& name) {
    std::string out = "`";
    for (char c : name) {
      out += c == '`' ? std::string("``") : std::string(1, c);
    }
    return out + "`";
  };
  for (const std::string& name : {table, twin, table + "_sluice_new", "_" + table + "_old"}) {
    db->execute("DROP TABLE IF EXISTS " + q(name));
  }
  const std::string columns =
      "(`i``d` INT NOT NULL PRIMARY KEY, `v; DROP TABLE x` INT NOT NULL, "
      "`n \"\xc3\xa4\"` VARCHAR(20) NULL)";
  db->execute("CREATE TABLE " + q(table) + " " + columns);
  db->execute("CREATE TABLE " + q(twin) + " " + columns);
  for (const std::string& name : {table, twin}) {
    db->execute("INSERT INTO " + q(name) +
                " SELECT seq, seq % 7, CONCAT('r', seq) FROM seq_1_to_3000");
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto app = mysql_admin();
    for (int i = 0; !stop; ++i) {
      for (const std::string& name : {table, twin}) {
        app->execute("START TRANSACTION");
        app->execute("UPDATE " + q(name) +
                     " SET `v; DROP TABLE x` = `v; DROP TABLE x` + 1 WHERE `i``d` = " +
                     std::to_string(1 + (i * 7919) % 3000));
        app->execute("REPLACE INTO " + q(name) + " VALUES (" + std::to_string(10000 + i) +
                     ", 1, 'new \xc3\xa4')");
        app->execute("DELETE FROM " + q(name) +
                     " WHERE `i``d` = " + std::to_string(1 + (i * 104729) % 3000));
        app->execute("COMMIT");
      }
    }
  });
  // The name on the command line is quoted as in SQL, backticks doubled.
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", q(table), "--alter",
                              "MODIFY `v; DROP TABLE x` BIGINT NOT NULL, ADD INDEX `ix ``;` "
                              "(`n \"\xc3\xa4\"`)",
                              "--execute", "--chunk-time", "20"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  writer.join();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(exists(*db, "x") == false);
  const auto rows = [&](const std::string& name) {
    return db->query("SELECT * FROM " + q(name) + " ORDER BY 1");
  };
  CHECK(rows(table) == rows(twin));
  CHECK(db->query_value("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                        "DATABASE() AND TABLE_NAME = " +
                        db->quote_literal(table) + " AND COLUMN_NAME = 'v; DROP TABLE x'") ==
        "bigint");
  CHECK(exists(*db, "_" + table + "_old"));
}

TEST_CASE("another session's DDL on the table during the copy stops the run before the cut-over") {
  // The binlog logs DDL as a statement, not as rows: before sluice read it, the shadow table
  // (without the new column) was swapped in and the column was lost with exit code 0.
  for (const char* ddl : {"ALTER TABLE alt_ddl ADD COLUMN sneaky INT DEFAULT 7",
                          "ALTER TABLE `alt_ddl` ADD INDEX by_k (k)"}) {
    auto db = mysql_admin();
    db->execute("DROP TABLE IF EXISTS alt_ddl, alt_ddl_twin");
    create_typed_table(*db, "alt_ddl", "alt_ddl_twin", 60000, false);
    TableWriter writer(sluice::parse_dsn(dsn()), "alt_ddl", "alt_ddl_twin");
    writer.start();
    std::atomic<bool> finished{false};
    std::atomic<bool> changed{false};
    std::thread other([&] {
      auto session = mysql_admin();
      // Once the shadow table exists, the copy is under way and the stream reads the binlog.
      while (!finished) {
        if (exists(*session, "alt_ddl_sluice_new")) {
          session->execute(ddl);
          changed = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    RunResult run =
        run_sluice({"alter", "--dsn", dsn(), "--table", "alt_ddl", "--alter",
                    "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--chunk-time", "5"});
    finished = true;
    other.join();
    writer.stop();
    INFO(ddl << "\n" << run.out << run.err);
    REQUIRE(changed);
    CHECK(run.exit_code == 6);
    CHECK(run.err.find("changed the schema of") != std::string::npos);
    CHECK(run.err.find(ddl) != std::string::npos);
    CHECK_FALSE(exists(*db, "alt_ddl_sluice_new"));
    CHECK_FALSE(exists(*db, "_alt_ddl_old"));
    CHECK(column_type("alt_ddl", "k") == "int(11)");
    CHECK(table_rows(*db, "alt_ddl", "alt_ddl_twin") == table_rows(*db, "alt_ddl_twin", "alt_ddl"));
    if (std::string(ddl).find("sneaky") != std::string::npos) {
      CHECK(column_type("alt_ddl", "sneaky") == "int(11)");
    }
  }
}

TEST_CASE("DDL that never reaches the binlog still stops the cut-over") {
  // sql_log_bin=0 keeps an ALTER out of the binlog, so the stream never shows it; the cut-over
  // compares the table's definition under its lock instead.
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS alt_nolog, alt_nolog_twin");
  create_typed_table(*db, "alt_nolog", "alt_nolog_twin", 3000, false);
  ScratchDir scratch;
  scratch.touch("postpone");
  SluiceProcess sluice({"alter", "--dsn", dsn(), "--table", "alt_nolog", "--alter",
                        "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute",
                        "--postpone-cutover-flag-file", scratch.file("postpone")},
                       true);
  REQUIRE(sluice.wait_for("the shadow table equals the original", std::chrono::seconds(120)));
  auto other = mysql_admin();
  other->execute("SET SESSION sql_log_bin = 0");
  other->execute("ALTER TABLE alt_nolog ADD COLUMN sneaky INT DEFAULT 7");
  scratch.remove("postpone");
  CHECK(sluice.wait(std::chrono::seconds(120)) == 6);
  INFO(sluice.out());
  CHECK(sluice.out().find("changed the definition of `sluice_test`.`alt_nolog`") !=
        std::string::npos);
  CHECK(column_type("alt_nolog", "k") == "int(11)");
  CHECK(column_type("alt_nolog", "sneaky") == "int(11)");
  CHECK_FALSE(exists(*db, "alt_nolog_sluice_new"));
  CHECK_FALSE(exists(*db, "alt_nolog_sluice_old"));
  CHECK_FALSE(exists(*db, "_alt_nolog_old"));
}

TEST_CASE("a table migrated again keeps each run's old table; contract drops a run's own") {
  auto db = mysql_admin();
  // What an earlier run of this test against the same server left.
  db->execute("DROP TABLE IF EXISTS _alt_again_old, _alt_again_old2, _alt_again_old3");
  if (!db->query("SHOW TABLES LIKE 'sluice\\_migrations'").empty()) {
    db->execute("DELETE FROM sluice_migrations WHERE name LIKE 'again-%'");
  }
  create_typed_table(*db, "alt_again", "alt_again_twin", 300, false);
  TableWriter writer(sluice::parse_dsn(dsn()), "alt_again", "alt_again_twin");
  writer.start();
  const auto migrate = [](const std::string& name, const std::string& alter) {
    const RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_again", "--alter",
                                      alter, "--execute", "--chunk-time", "20", "--name", name});
    INFO(name << ": " << run.out << run.err);
    REQUIRE(run.exit_code == 0);
  };
  const auto contract = [](const std::string& name) {
    const RunResult run = run_sluice({"contract", "--dsn", dsn(), name});
    INFO(name << ": " << run.out << run.err);
    CHECK(run.exit_code == 0);
  };
  migrate("again-1", "MODIFY k BIGINT NOT NULL DEFAULT 0");
  migrate("again-2", "MODIFY k INT NOT NULL DEFAULT 0");  // right away: no manual step
  // Each old table is the one its run replaced: the first had INT, the second BIGINT.
  CHECK(column_type("_alt_again_old", "k") == "int(11)");
  CHECK(column_type("_alt_again_old2", "k") == "bigint(20)");
  const RunResult status = run_sluice({"status", "--dsn", dsn(), "again-2"});
  CHECK(status.out.find("old table kept as _alt_again_old2 (sluice contract again-2 drops it)") !=
        std::string::npos);

  contract("again-1");
  CHECK_FALSE(exists(*db, "_alt_again_old"));
  CHECK(exists(*db, "_alt_again_old2"));
  auto store = phase_store(sluice::parse_dsn(dsn()), std::nullopt);
  CHECK(store->find("again-1").value().phase == sluice::Phase::contracted);
  CHECK(store->find("again-2").value().phase == sluice::Phase::switched);

  // The first free suffix is taken again; a run whose old table was dropped by hand must not
  // drop the table a later run keeps under the same name.
  migrate("again-3", "MODIFY k BIGINT NOT NULL DEFAULT 0");
  CHECK(column_type("_alt_again_old", "k") == "int(11)");
  db->execute("DROP TABLE _alt_again_old2");
  migrate("again-4", "MODIFY k INT NOT NULL DEFAULT 0");
  CHECK(column_type("_alt_again_old2", "k") == "bigint(20)");
  contract("again-2");
  CHECK(exists(*db, "_alt_again_old2"));
  CHECK(store->find("again-2").value().phase == sluice::Phase::contracted);
  contract("again-4");
  CHECK_FALSE(exists(*db, "_alt_again_old2"));

  const RunResult archive =
      run_sluice({"contract", "--dsn", dsn(), "again-3", "--archive", "/tmp/alt_again.zst"});
  CHECK(archive.exit_code == 2);
  CHECK(exists(*db, "_alt_again_old"));

  writer.stop();
  CHECK(writer.transactions() > 0);
  const auto migrated = table_rows(*db, "alt_again", "alt_again_twin");
  const auto expected = table_rows(*db, "alt_again_twin", "alt_again");
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
}

namespace {

// SHOW CREATE TABLE `table` with its name replaced by `as`: two tables compare equal when they
// have the same columns, indexes (definitions and order) and options.
std::string definition(sluice::mysql::Connection& db, const std::string& table,
                       const std::string& as) {
  std::string text = db.query("SHOW CREATE TABLE `" + table + "`").at(0).at(1).value_or("");
  const std::string name = "`" + table + "`";
  text.replace(text.find(name), name.size(), "`" + as + "`");
  return text;
}

}  // namespace

// The shadow's plain secondary indexes are dropped for the copy and built after it; the new table
// ends with the indexes and the table comment the ALTER gives a plain copy of the table.
TEST_CASE("secondary indexes held back during the copy are built after it, as the ALTER says") {
  auto db = mysql_admin();
  create_typed_table(*db, "alt_idx", "alt_idx_twin", 20000, false);
  db->execute("DROP TABLE IF EXISTS alt_idx_expected");
  db->execute(
      "ALTER TABLE alt_idx ADD INDEX by_name (name(10)), ADD INDEX `by k, id` (k, id DESC) "
      "COMMENT 'two columns', COMMENT = 'the orders'");
  const std::string alter =
      "MODIFY k BIGINT NOT NULL DEFAULT 0, ADD INDEX by_amount (amount), DROP INDEX by_name";
  db->execute("CREATE TABLE alt_idx_expected LIKE alt_idx");
  db->execute("ALTER TABLE alt_idx_expected " + alter);
  TableWriter writer(sluice::parse_dsn(dsn()), "alt_idx", "alt_idx_twin");
  writer.start();
  const RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_idx", "--alter", alter,
                                    "--execute", "--chunk-time", "20"});
  writer.stop();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.find("without its 2 secondary indexes, built after the copy") != std::string::npos);
  CHECK(run.err.find("built the shadow table's 2 secondary indexes") != std::string::npos);
  CHECK(definition(*db, "alt_idx", "t") == definition(*db, "alt_idx_expected", "t"));
  CHECK(table_rows(*db, "alt_idx", "alt_idx_twin") == table_rows(*db, "alt_idx_twin", "alt_idx"));

  // Kept during the copy on request: the same definition.
  db->execute("DROP TABLE _alt_idx_old");
  const RunResult kept = run_sluice({"alter", "--dsn", dsn(), "--table", "alt_idx", "--alter",
                                     "FORCE", "--execute", "--maintain-indexes-during-copy"});
  INFO(kept.out << kept.err);
  REQUIRE(kept.exit_code == 0);
  CHECK(kept.err.find("secondary indexes") == std::string::npos);
  CHECK(definition(*db, "alt_idx", "t") == definition(*db, "alt_idx_expected", "t"));
}

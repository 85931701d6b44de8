// The phase metadata (docs/migrations.md) on real servers: `sluice alter` records its phases, a
// live lease keeps a second runner and `sluice cleanup` away, an expired one is taken over, the
// layout is upgraded in place, `sluice status` shows it all.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/support.h"
#include "integration/table_writer.h"
#include "src/lease.h"
#include "src/phase_store.h"

using sluice::MigrationRecord;
using sluice::Phase;
using sluice::ServerKind;
using namespace sluice::test;

namespace {

// Every test keeps its metadata apart from the other test binaries running at the same time.
constexpr const char* kMetadata = "pm_meta";

std::string mysql_dsn() {
  return server_dsn(ServerKind::mysql);
}

// An empty metadata database at the first use in this process, so that the tests can run again
// on the same server.
void fresh_metadata() {
  static const bool done = [] {
    auto db = mysql_admin();
    db->execute(std::string("DROP DATABASE IF EXISTS ") + kMetadata);
    db->execute(std::string("CREATE DATABASE ") + kMetadata);
    return true;
  }();
  (void)done;
}

std::unique_ptr<sluice::PhaseStore> mysql_store(const std::string& schema = kMetadata) {
  fresh_metadata();
  mysql_admin()->execute("CREATE DATABASE IF NOT EXISTS `" + schema + "`");
  auto store = sluice::test::phase_store(sluice::parse_dsn(mysql_dsn()), schema);
  store->ensure_schema();
  return store;
}

MigrationRecord record_of(const std::string& name, const std::string& table) {
  MigrationRecord record;
  record.name = name;
  record.table = table;
  record.operation = "rebuild";
  record.spec = "{}";
  return record;
}

bool exists(sluice::mysql::Connection& db, const std::string& table) {
  return !db.query("SHOW TABLES LIKE " + db.quote_literal(table)).empty();
}

// Runs `sluice alter --execute` on `table` while the writer changes it, then compares it with
// its twin row for row.
RunResult alter_under_load(const std::string& table, const std::vector<std::string>& extra) {
  fresh_metadata();
  auto db = mysql_admin();
  create_typed_table(*db, table, table + "_twin", 2000, false);
  TableWriter writer(sluice::parse_dsn(mysql_dsn()), table, table + "_twin");
  writer.start();
  std::vector<std::string> args = {"alter",
                                   "--dsn",
                                   mysql_dsn(),
                                   "--table",
                                   table,
                                   "--alter",
                                   "MODIFY k BIGINT NOT NULL DEFAULT 0",
                                   "--execute",
                                   "--metadata-schema",
                                   kMetadata};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult run = run_sluice(args);
  writer.stop();
  if (run.exit_code == 0) {
    CHECK(table_rows(*db, table, table + "_twin") == table_rows(*db, table + "_twin", table));
  }
  return run;
}

}  // namespace

TEST_CASE("sluice alter records every phase of its run and sluice status shows them") {
  RunResult run = alter_under_load("pm_rec", {"--name", "pm-rec-1", "--drop-old-table"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.find("recorded as migration 'pm-rec-1'") != std::string::npos);

  RunResult status = run_sluice(
      {"status", "--dsn", mysql_dsn(), "--metadata-schema", kMetadata, "pm-rec-1", "--json"});
  INFO(status.out << status.err);
  REQUIRE(status.exit_code == 0);
  const nlohmann::json record = nlohmann::json::parse(status.out);
  CHECK(record["phase"] == "contracted");
  CHECK(record["table"] == "`sluice_test`.`pm_rec`");
  CHECK(record["operation"] == "rebuild");
  CHECK(record["spec"]["alter"] == "MODIFY k BIGINT NOT NULL DEFAULT 0");
  for (const char* phase : {"planned", "expanding", "backfilling", "switched", "contracted"}) {
    CHECK_MESSAGE(record["entered"].contains(phase), phase);
  }
  CHECK(record["entered"]["planned"] <= record["entered"]["expanding"]);
  CHECK(record["entered"]["backfilling"] <= record["entered"]["switched"]);
  CHECK(record["lease_alive"] == false);

  RunResult listing = run_sluice({"status", "--dsn", mysql_dsn(), "--metadata-schema", kMetadata});
  CHECK(listing.exit_code == 0);
  CHECK(listing.out.find("pm-rec-1  `sluice_test`.`pm_rec`  rebuild  contracted since") !=
        std::string::npos);

  // A name is recorded once; reusing it is refused before anything is created.
  RunResult again = run_sluice({"alter", "--dsn", mysql_dsn(), "--table", "pm_rec", "--alter",
                                "MODIFY k INT NOT NULL DEFAULT 0", "--execute", "--name",
                                "pm-rec-1", "--metadata-schema", kMetadata});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("already recorded") != std::string::npos);
  CHECK_FALSE(exists(*mysql_admin(), "pm_rec_sluice_new"));

  RunResult nowhere = run_sluice({"alter", "--dsn", mysql_dsn(), "--table", "pm_rec", "--alter",
                                  "MODIFY k INT NOT NULL DEFAULT 0", "--execute",
                                  "--metadata-schema", "pm_missing_db"});
  CHECK(nowhere.exit_code == 5);
  CHECK(nowhere.err.find("`pm_missing_db` for sluice's phase metadata does not exist") !=
        std::string::npos);

  RunResult unknown =
      run_sluice({"status", "--dsn", mysql_dsn(), "--metadata-schema", kMetadata, "pm-nothing"});
  CHECK(unknown.exit_code == 4);
}

TEST_CASE("a failed run is recorded as aborted with its error") {
  auto db = mysql_admin();
  create_typed_table(*db, "pm_fail", "pm_fail_twin", 10, false);
  fresh_metadata();
  // VARCHAR(50) to VARCHAR(2) truncates existing names: the copy stops, the table stays.
  RunResult run = run_sluice({"alter", "--dsn", mysql_dsn(), "--table", "pm_fail", "--alter",
                              "MODIFY name VARCHAR(2)", "--execute", "--name", "pm-fail-1",
                              "--metadata-schema", kMetadata});
  CHECK(run.exit_code == 5);
  const std::optional<MigrationRecord> record = mysql_store()->find("pm-fail-1");
  REQUIRE(record);
  CHECK(record->phase == Phase::aborted);
  CHECK(record->error.find("copying would change data") != std::string::npos);
  CHECK(record->entered.count(Phase::backfilling) == 1);
  CHECK_FALSE(exists(*db, "pm_fail_sluice_new"));
}

TEST_CASE("a live lease keeps a second run and cleanup away; an expired one is taken over") {
  auto store = mysql_store();
  auto db = mysql_admin();
  create_typed_table(*db, "pm_busy", "pm_busy_twin", 50, false);
  store->start(record_of("pm-busy-other", "`sluice_test`.`pm_busy`"), "elsewhere:42");
  // What the other runner would have created, which is not a leftover while it lives.
  db->execute("CREATE TABLE pm_busy_sluice_new LIKE pm_busy");

  RunResult second = run_sluice({"alter", "--dsn", mysql_dsn(), "--table", "pm_busy", "--alter",
                                 "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute",
                                 "--metadata-schema", kMetadata});
  CHECK(second.exit_code == 5);
  CHECK(second.err.find("run by elsewhere:42") != std::string::npos);
  RunResult cleanup = run_sluice(
      {"cleanup", "--dsn", mysql_dsn(), "--table", "pm_busy", "--metadata-schema", kMetadata});
  CHECK(cleanup.exit_code == 5);
  CHECK(cleanup.err.find("is running") != std::string::npos);
  CHECK(exists(*db, "pm_busy_sluice_new"));

  // The other runner died: its lease runs out, cleanup removes its shadow, a new run takes over.
  db->execute(std::string("UPDATE ") + kMetadata +
              ".sluice_migrations SET lease_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE "
              "name = 'pm-busy-other'");
  cleanup = run_sluice(
      {"cleanup", "--dsn", mysql_dsn(), "--table", "pm_busy", "--metadata-schema", kMetadata});
  CHECK(cleanup.exit_code == 0);
  RunResult run = alter_under_load("pm_busy", {"--name", "pm-busy-mine"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  const std::optional<MigrationRecord> other = store->find("pm-busy-other");
  REQUIRE(other);
  CHECK(other->phase == Phase::aborted);
  CHECK(other->error.find("stopped renewing its lease") != std::string::npos);
  CHECK(store->find("pm-busy-mine")->phase == Phase::switched);
}

TEST_CASE("a lease taken over by another runner is noticed as lost") {
  auto store = mysql_store();
  const std::int64_t id =
      store->start(record_of("pm-lease", "`sluice_test`.`pm_lease`"), "me.example:1");
  sluice::Lease lease(
      [] {
        return sluice::test::phase_store(sluice::parse_dsn(mysql_dsn()), std::string(kMetadata));
      },
      id, "me.example:1");
  CHECK_FALSE(lease.lost());
  mysql_admin()->execute(
      std::string("UPDATE ") + kMetadata +
      ".sluice_migrations SET owner = 'thief.example:2' WHERE id = " + std::to_string(id));
  for (int i = 0; i < 300 && !lease.lost(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(lease.lost());
}

TEST_CASE("an older metadata layout is upgraded in place; a newer one is refused") {
  auto db = mysql_admin();
  db->execute("DROP DATABASE IF EXISTS pm_old");
  db->execute("CREATE DATABASE pm_old");
  // Layout version 1, as the first sluice wrote it (no `error` column).
  db->execute(
      "CREATE TABLE pm_old.sluice_migrations (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
      "name VARCHAR(190) NOT NULL, table_name VARCHAR(400) NOT NULL, operation VARCHAR(40) NOT "
      "NULL, spec LONGTEXT NOT NULL, phase VARCHAR(20) NOT NULL, planned_at DATETIME(6) NULL, "
      "expanding_at DATETIME(6) NULL, backfilling_at DATETIME(6) NULL, switched_at DATETIME(6) "
      "NULL, contracted_at DATETIME(6) NULL, aborted_at DATETIME(6) NULL, reverted_at "
      "DATETIME(6) NULL, checkpoint LONGTEXT NULL, grace_seconds BIGINT NOT NULL DEFAULT 0, owner "
      "VARCHAR(255) NULL, lease_until DATETIME(6) NULL, UNIQUE KEY name (name))");
  db->execute("CREATE TABLE pm_old.sluice_metadata (version INT NOT NULL)");
  db->execute("INSERT INTO pm_old.sluice_metadata VALUES (1)");
  db->execute(
      "INSERT INTO pm_old.sluice_migrations (name, table_name, operation, spec, phase, "
      "planned_at, switched_at) VALUES ('pm-v1', '`shop`.`orders`', 'rebuild', '{}', "
      "'switched', '2026-01-01 00:00:00', '2026-01-01 00:10:00')");

  RunResult status =
      run_sluice({"status", "--dsn", mysql_dsn(), "--metadata-schema", "pm_old", "--json"});
  INFO(status.out << status.err);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("\"name\":\"pm-v1\"") != std::string::npos);
  CHECK(db->query_value("SELECT version FROM pm_old.sluice_metadata") == "2");
  CHECK(db->query_value("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                        "'pm_old' AND COLUMN_NAME = 'error'") == "1");

  db->execute("UPDATE pm_old.sluice_metadata SET version = 99");
  RunResult newer = run_sluice({"status", "--dsn", mysql_dsn(), "--metadata-schema", "pm_old"});
  CHECK(newer.exit_code == 5);
  CHECK(newer.err.find("newer than this sluice understands") != std::string::npos);
}

TEST_CASE("PostgreSQL: the phase metadata in its own schema, leases and status") {
  const std::string dsn = server_dsn(ServerKind::postgres);
  postgres_admin()->execute("DROP SCHEMA IF EXISTS pm_sluice CASCADE");
  auto store = sluice::test::phase_store(sluice::parse_dsn(dsn), std::string("pm_sluice"));
  CHECK(store->schema_version() == 0);
  CHECK(store->list().empty());
  store->ensure_schema();
  store->ensure_schema();  // idempotent
  CHECK(store->schema_version() == sluice::PhaseStore::kSchemaVersion);

  const std::int64_t id = store->start(record_of("pg-one", "\"public\".\"orders\""), "a.example:1");
  CHECK_THROWS_WITH_AS(store->start(record_of("pg-one", "\"public\".\"other\""), "b.example:2"),
                       doctest::Contains("already recorded"), sluice::Error);
  CHECK_THROWS_WITH_AS(store->start(record_of("pg-two", "\"public\".\"orders\""), "b.example:2"),
                       doctest::Contains("run by a.example:1"), sluice::Error);
  store->set_phase(id, Phase::expanding);
  CHECK(store->renew_lease(id, "a.example:1"));
  CHECK_FALSE(store->renew_lease(id, "b.example:2"));

  postgres_admin()->execute(
      "UPDATE pm_sluice.migrations SET lease_until = clock_timestamp() - interval '1 second'");
  const std::int64_t taken =
      store->start(record_of("pg-two", "\"public\".\"orders\""), "b.example:2");
  CHECK(taken != id);
  const std::optional<MigrationRecord> first = store->find("pg-one");
  REQUIRE(first);
  CHECK(first->phase == Phase::aborted);
  CHECK(first->entered.count(Phase::expanding) == 1);
  CHECK(first->error.find("a.example:1 stopped renewing") != std::string::npos);
  store->save_checkpoint(taken, R"({"watermark": [42]})");

  RunResult status =
      run_sluice({"status", "--dsn", dsn, "--metadata-schema", "pm_sluice", "--json"});
  INFO(status.out << status.err);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("\"phase\":\"aborted\"") != std::string::npos);
  CHECK(status.out.find("\"checkpoint\":{\"watermark\":[42]}") != std::string::npos);
  CHECK(status.out.find("\"lease_alive\":true") != std::string::npos);

  postgres_admin()->execute("UPDATE pm_sluice.metadata SET version = 99");
  CHECK_THROWS_WITH_AS(store->list(), doctest::Contains("newer than this sluice"), sluice::Error);
}

// Crash and resume on a real MariaDB: `sluice alter` killed with SIGKILL in the middle of its copy
// resumes from the checkpoint in the phase metadata (`sluice alter --resume NAME`) while the
// application keeps writing, and ends identical to the source row for row.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include "integration/support.h"
#include "integration/table_writer.h"
#include "src/checkpoint.h"
#include "src/phase_store.h"

using sluice::MigrationRecord;
using sluice::Phase;
using sluice::ServerKind;
using namespace sluice::test;

namespace {

bool exists(sluice::mysql::Connection& db, const std::string& table) {
  return !db.query("SHOW TABLES LIKE " + db.quote_literal(table)).empty();
}

// Waits until the run `name` has saved a checkpoint past its first chunk.
// Waits for a checkpoint whose copy watermark (an integer key) is at least `at_least`.
bool wait_for_checkpoint(const std::string& dsn, const std::string& name,
                         std::uint64_t at_least = 0) {
  auto store = sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt);
  for (int i = 0; i < 600; ++i) {
    const std::optional<MigrationRecord> record = store->find(name);
    if (record && record->checkpoint.find("\"watermark\":[") != std::string::npos) {
      const sluice::Checkpoint checkpoint = sluice::checkpoint_from_json(record->checkpoint);
      if (at_least == 0 || std::stoull(checkpoint.watermark->at(0).text) >= at_least) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Starts `sluice alter` on `table` in the background and kills it with SIGKILL once it has
// checkpointed a part of its copy, with a watermark of at least `at_least`.
void start_and_kill(const std::string& dsn, const std::string& table, const std::string& name,
                    std::uint64_t at_least = 0) {
  // A record of an earlier run of this test would make the name taken.
  sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt)->ensure_schema();
  sluice::mysql::Connection(sluice::parse_dsn(dsn), std::nullopt)
      .execute("DELETE FROM sluice_migrations WHERE name = '" + name + "'");
  SluiceProcess run({"alter", "--dsn", dsn, "--table", table, "--alter",
                     "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--name", name,
                     "--chunk-time", "20"});
  REQUIRE(wait_for_checkpoint(dsn, name, at_least));
  CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
}

void expire_lease(sluice::mysql::Connection& db, const std::string& name) {
  db.execute(
      "UPDATE sluice_migrations SET lease_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE "
      "name = " +
      db.quote_literal(name));
}

}  // namespace

TEST_CASE("a run killed mid-copy resumes from its checkpoint and ends equal to the source") {
  const std::string dsn = server_dsn(ServerKind::mysql);
  auto db = mysql_admin();
  create_typed_table(*db, "rs_kill", "rs_kill_twin", 150000, false);
  // Held back by the shadow during the copy and built after it, by the killed run or the resumed
  // one: the new table has them either way.
  db->execute("ALTER TABLE rs_kill ADD INDEX by_k (k), ADD INDEX by_name (name), COMMENT = 'rs'");
  db->execute("DROP TABLE IF EXISTS rs_kill_planned");
  db->execute("CREATE TABLE rs_kill_planned LIKE rs_kill");
  db->execute("ALTER TABLE rs_kill_planned MODIFY k BIGINT NOT NULL DEFAULT 0");
  TableWriter writer(sluice::parse_dsn(dsn), "rs_kill", "rs_kill_twin");
  writer.start();
  // Killed past a tenth of the copy: a chunk counts every row it reads, so a resume that goes on
  // after key 1000 of a table the writer grows could count about as many rows as it started with.
  start_and_kill(dsn, "rs_kill", "rs-kill-1", 15000);
  // The kill left the shadow table; the original table is still the application's.
  CHECK(exists(*db, "rs_kill_sluice_new"));
  CHECK(db->query_value("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA "
                        "= DATABASE() AND TABLE_NAME = 'rs_kill' AND COLUMN_NAME = 'k'") ==
        "int(11)");

  // The lease has not expired, but its runner is gone from this host: a new run of the table is
  // pointed at --resume, which takes over at once.
  check_refusal(run_sluice({"alter", "--dsn", dsn, "--table", "rs_kill", "--alter",
                            "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute"}),
                5, "is no longer running); continue it with sluice alter --resume rs-kill-1");
  RunResult resumed = run_sluice({"alter", "--dsn", dsn, "--resume", "rs-kill-1"});
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("resuming: the copy goes on after key") != std::string::npos);
  // It went on from the checkpoint instead of copying everything again.
  std::smatch copied;
  REQUIRE(std::regex_search(resumed.out, copied, std::regex("([0-9]+) rows copied")));
  CHECK(std::stoull(copied[1]) < 150000);
  CHECK(table_rows(*db, "rs_kill", "rs_kill_twin") == table_rows(*db, "rs_kill_twin", "rs_kill"));
  CHECK_FALSE(exists(*db, "rs_kill_sluice_new"));
  const auto definition = [&](const std::string& table) {
    const std::string text = db->query("SHOW CREATE TABLE " + table).at(0).at(1).value_or("");
    return text.substr(text.find('('));
  };
  CHECK(definition("rs_kill") == definition("rs_kill_planned"));

  auto store = sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt);
  const std::optional<MigrationRecord> record = store->find("rs-kill-1");
  REQUIRE(record);
  CHECK(record->phase == Phase::switched);
  CHECK_FALSE(record->lease_alive);

  // A finished run cannot be resumed.
  RunResult again = run_sluice({"alter", "--dsn", dsn, "--resume", "rs-kill-1"});
  CHECK(again.exit_code == 5);
  CHECK(again.err.find("only a run killed while expanding or backfilling") != std::string::npos);
}

// Killed while paused mid-copy, the shadow still holds its indexes back; only its comment
// records them, and the resumed run builds them from it.
TEST_CASE("a run killed while its shadow holds indexes back builds them when resumed") {
  const std::string dsn = server_dsn(ServerKind::mysql);
  auto db = mysql_admin();
  create_typed_table(*db, "rs_held", "rs_held_twin", 30000, false);
  db->execute("ALTER TABLE rs_held ADD INDEX by_k (k), ADD INDEX by_name (name)");
  db->execute("DROP TABLE IF EXISTS rs_held_planned");
  db->execute("CREATE TABLE rs_held_planned LIKE rs_held");
  db->execute("ALTER TABLE rs_held_planned MODIFY k BIGINT NOT NULL DEFAULT 0");
  sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt)->ensure_schema();
  db->execute("DELETE FROM sluice_migrations WHERE name = 'rs-held-1'");
  const std::string throttle = "/tmp/sluice-rs-held-throttle";
  std::remove(throttle.c_str());
  {
    SluiceProcess run({"alter", "--dsn", dsn, "--table", "rs_held", "--alter",
                       "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--name", "rs-held-1",
                       "--chunk-size", "100", "--throttle-flag-file", throttle});
    REQUIRE(wait_for_checkpoint(dsn, "rs-held-1"));
    std::ofstream(throttle) << "";
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
  }
  std::remove(throttle.c_str());
  const std::string comment =
      db->query_value(
            "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE "
            "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'rs_held_sluice_new'")
          .value_or("");
  CHECK(comment.starts_with("sluice: indexes held back during the copy"));
  RunResult resumed = run_sluice({"alter", "--dsn", dsn, "--resume", "rs-held-1"});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("without its 2 secondary indexes, built after the copy") !=
        std::string::npos);
  CHECK(resumed.err.find("built the shadow table's 2 secondary indexes") != std::string::npos);
  const auto definition = [&](const std::string& table) {
    const std::string text = db->query("SHOW CREATE TABLE " + table).at(0).at(1).value_or("");
    return text.substr(text.find('('));
  };
  CHECK(definition("rs_held") == definition("rs_held_planned"));
  CHECK(table_rows(*db, "rs_held", "rs_held_twin") == table_rows(*db, "rs_held_twin", "rs_held"));
}

TEST_CASE("right after a kill -9, cleanup removes what the run left and a new run goes ahead") {
  const std::string dsn = server_dsn(ServerKind::mysql);
  auto db = mysql_admin();
  create_typed_table(*db, "rs_clean", "rs_clean_twin", 60000, false);
  start_and_kill(dsn, "rs_clean", "rs-clean-1");
  RunResult status = run_sluice({"status", "--dsn", dsn, "rs-clean-1"});
  CHECK(status.out.find(", which is no longer running") != std::string::npos);
  RunResult cleanup = run_sluice({"cleanup", "--dsn", dsn, "--table", "rs_clean"});
  INFO(cleanup.out << cleanup.err);
  REQUIRE(cleanup.exit_code == 0);
  CHECK(cleanup.out.find("dropped") != std::string::npos);
  CHECK_FALSE(exists(*db, "rs_clean_sluice_new"));
  auto store = sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt);
  CHECK(store->find("rs-clean-1")->phase == Phase::aborted);
  db->execute("DELETE FROM sluice_migrations WHERE name = 'rs-clean-2'");
  RunResult again =
      run_sluice({"alter", "--dsn", dsn, "--table", "rs_clean", "--alter",
                  "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--name", "rs-clean-2"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("a checkpoint whose binlog was purged cannot be resumed; the run says so") {
  PrivateServer server(ServerKind::mysql, "");
  sluice::mysql::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  create_typed_table(db, "rs_gone", "rs_gone_twin", 150000, false);
  start_and_kill(server.dsn(), "rs_gone", "rs-gone-1");
  db.execute("FLUSH BINARY LOGS");
  const std::string newest = *db.query("SHOW MASTER STATUS").front()[0];
  // The server keeps a file a dump thread still reads; the killed run's goes away shortly.
  for (int i = 0; i < 100 && *db.query("SHOW BINARY LOGS").front()[0] != newest; ++i) {
    db.execute("PURGE BINARY LOGS TO " + db.quote_literal(newest));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(*db.query("SHOW BINARY LOGS").front()[0] == newest);
  expire_lease(db, "rs-gone-1");

  RunResult resumed = run_sluice({"alter", "--dsn", server.dsn(), "--resume", "rs-gone-1"});
  INFO(resumed.out << resumed.err);
  CHECK(resumed.exit_code == 6);
  CHECK(resumed.err.find("cannot resume") != std::string::npos);
  CHECK(resumed.err.find("sluice cleanup") != std::string::npos);
  CHECK(table_rows(db, "rs_gone", "rs_gone_twin") == table_rows(db, "rs_gone_twin", "rs_gone"));
  auto store = sluice::test::phase_store(sluice::parse_dsn(server.dsn()), std::nullopt);
  CHECK(store->find("rs-gone-1")->phase == Phase::aborted);
}

namespace {

// Runs `sluice alter` on a fresh `table` with the cut-over postponed by a flag file and kills it
// with SIGKILL once it waits there: everything is copied and verified, the swap not done.
void kill_before_cut_over(const std::string& dsn, const std::string& table,
                          const std::string& name) {
  sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt)->ensure_schema();
  auto db = mysql_admin();
  db->execute("DELETE FROM sluice_migrations WHERE name = '" + name + "'");
  db->execute("DROP TABLE IF EXISTS `" + table + "_sluice_old`");
  const std::string flag = "/tmp/sluice-resume-test-postpone-" + name;
  shell("touch " + flag);
  SluiceProcess run({"alter", "--dsn", dsn, "--table", table, "--alter",
                     "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--name", name,
                     "--postpone-cutover-flag-file", flag, "--json", "--status-interval", "0.2"});
  REQUIRE(run.wait_for("\"state\":\"waiting\"", std::chrono::milliseconds(120000)));
  CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
  shell("rm -f " + flag);
}

}  // namespace

TEST_CASE("a run killed during its cut-over resumes: the sentry goes and the cut-over is redone") {
  const std::string dsn = server_dsn(ServerKind::mysql);
  auto db = mysql_admin();
  create_typed_table(*db, "rs_cut", "rs_cut_twin", 3000, false);
  TableWriter writer(sluice::parse_dsn(dsn), "rs_cut", "rs_cut_twin");
  writer.start();
  kill_before_cut_over(dsn, "rs_cut", "rs-cut-1");
  // What a kill between creating the sentry and the swap leaves: the sentry, the shadow table.
  db->execute("CREATE TABLE rs_cut_sluice_old (sentry INT) COMMENT 'sluice cut-over sentry'");
  expire_lease(*db, "rs-cut-1");
  RunResult resumed = run_sluice({"alter", "--dsn", dsn, "--resume", "rs-cut-1"});
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("dropped the sentry") != std::string::npos);
  CHECK(exists(*db, "_rs_cut_old"));
  CHECK_FALSE(exists(*db, "rs_cut_sluice_old"));
  CHECK(table_rows(*db, "rs_cut", "rs_cut_twin") == table_rows(*db, "rs_cut_twin", "rs_cut"));
}

TEST_CASE("a run killed right after its swap resumes by recording the swap") {
  const std::string dsn = server_dsn(ServerKind::mysql);
  auto db = mysql_admin();
  create_typed_table(*db, "rs_swap", "rs_swap_twin", 3000, false);
  kill_before_cut_over(dsn, "rs_swap", "rs-swap-1");
  // What a kill after the RENAME leaves (no writes run here: the shadow is complete).
  db->execute("RENAME TABLE rs_swap TO rs_swap_sluice_old, rs_swap_sluice_new TO rs_swap");
  expire_lease(*db, "rs-swap-1");
  RunResult resumed = run_sluice({"alter", "--dsn", dsn, "--resume", "rs-swap-1"});
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("had swapped the tables already") != std::string::npos);
  CHECK(exists(*db, "_rs_swap_old"));
  CHECK_FALSE(exists(*db, "rs_swap_sluice_old"));
  CHECK(table_rows(*db, "rs_swap", "rs_swap_twin") == table_rows(*db, "rs_swap_twin", "rs_swap"));
  auto store = sluice::test::phase_store(sluice::parse_dsn(dsn), std::nullopt);
  CHECK(store->find("rs-swap-1")->phase == Phase::switched);
}

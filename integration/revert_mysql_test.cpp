// `sluice revert` on a real MariaDB (docs/alter.md, "Revert"): a migration undone after its
// cut-over keeps every write made under the new schema, under the twin-table writer running
// before, during and after both cut-overs; a revert killed with SIGKILL resumes, and `sluice
// cleanup` gives its adopted old table back; refusals (lossy, past the window, binlog purged,
// contracted) change nothing.
#include <doctest/doctest.h>

#include <csignal>
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

std::string phase_of(sluice::mysql::Connection& db, const std::string& name) {
  return db
      .query_value("SELECT phase FROM sluice_migrations WHERE name = " + db.quote_literal(name))
      .value_or("");
}

void forget(sluice::mysql::Connection& db, const std::string& table) {
  db.execute("DROP TABLE IF EXISTS " + table + ", " + table + "_twin, _" + table + "_old, " +
             table + "_sluice_new, " + table + "_sluice_old");
  if (!db.query("SHOW TABLES LIKE 'sluice\\_migrations'").empty()) {
    db.execute("DELETE FROM sluice_migrations WHERE table_name LIKE " +
               db.quote_literal("%`" + table + "`"));
  }
}

RunResult alter(const std::string& table, const std::string& name, const std::string& change,
                const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"alter",  "--dsn",   dsn(),          "--table",
                                   table,    "--alter", change,         "--execute",
                                   "--name", name,      "--chunk-time", "20"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_sluice(args);
}

RunResult revert(const std::string& name, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"revert", "--dsn", dsn(), name};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_sluice(args);
}

// Lets the writer commit `count` more transactions.
void let_write(const TableWriter& writer, std::uint64_t count) {
  const std::uint64_t target = writer.transactions() + count;
  REQUIRE(eventually([&] { return writer.transactions() >= target; }, std::chrono::seconds(60)));
}

void check_twin(sluice::mysql::Connection& db, const std::string& table) {
  const auto rows = table_rows(db, table, table + "_twin");
  const auto expected = table_rows(db, table + "_twin", table);
  CHECK(rows.size() == expected.size());
  CHECK_MESSAGE(rows == expected, first_difference(rows, expected));
}

}  // namespace

TEST_CASE("a migration reverted under writes keeps every write made since its cut-over") {
  auto db = mysql_admin();
  forget(*db, "rv_main");
  create_typed_table(*db, "rv_main", "rv_main_twin", 3000, false);
  TableWriter writer(sluice::parse_dsn(dsn()), "rv_main", "rv_main_twin");
  writer.start();
  const RunResult forward = alter("rv_main", "rv-main", "MODIFY k BIGINT NOT NULL DEFAULT 0");
  INFO(forward.err);
  REQUIRE(forward.exit_code == 0);
  CHECK(forward.err.find("sluice revert can undo the migration") != std::string::npos);
  // The revert point names the swap's GTID too (MariaDB logs one for every transaction).
  CHECK(forward.err.find(" gtid 0-") != std::string::npos);
  // Inserts, updates with key changes, deletes and unique swaps, all under the new schema.
  let_write(writer, 200);
  const RunResult reverted = revert("rv-main");
  INFO(reverted.err);
  REQUIRE(reverted.exit_code == 0);
  CHECK(mysql_column_type(*db, "rv_main", "k") == "int(11)");
  CHECK(phase_of(*db, "rv-main") == "reverted");
  CHECK(phase_of(*db, "revert-rv-main") == "switched");
  const RunResult status = run_sluice({"status", "--dsn", dsn(), "revert-rv-main"});
  CHECK(status.out.find("revertible until") != std::string::npos);
  CHECK_FALSE(mysql_table_exists(*db, "rv_main_sluice_new"));
  // The table swapped out keeps the new schema under the old table's name.
  CHECK(mysql_column_type(*db, "_rv_main_old", "k") == "bigint(20)");
  let_write(writer, 100);
  // A revert is a migration like any other: it can be reverted in turn.
  const RunResult again = revert("revert-rv-main");
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(mysql_column_type(*db, "rv_main", "k") == "bigint(20)");
  let_write(writer, 100);
  writer.stop();
  check_twin(*db, "rv_main");
  // Refused once done: nothing to revert twice.
  check_refusal(revert("rv-main"), 5, "reverted already");
}

TEST_CASE("a revert killed with SIGKILL resumes; cleanup gives a stopped revert's old table back") {
  auto db = mysql_admin();
  forget(*db, "rv_kill");
  create_typed_table(*db, "rv_kill", "rv_kill_twin", 3000, false);
  TableWriter writer(sluice::parse_dsn(dsn()), "rv_kill", "rv_kill_twin");
  writer.start();
  REQUIRE(alter("rv_kill", "rv-kill", "MODIFY k BIGINT NOT NULL DEFAULT 0").exit_code == 0);
  let_write(writer, 100);
  ScratchDir scratch;
  const auto kill_revert = [&] {
    scratch.touch("postpone");
    SluiceProcess run({"revert", "--dsn", dsn(), "rv-kill", "--postpone-cutover-flag-file",
                       scratch.file("postpone")},
                      true);
    REQUIRE(run.wait_for("the shadow table equals the original", std::chrono::seconds(120)));
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
    scratch.remove("postpone");
  };
  kill_revert();
  // Killed before its cut-over: the old table is the revert's shadow, under the shadow's name.
  CHECK(mysql_table_exists(*db, "rv_kill_sluice_new"));
  CHECK_FALSE(mysql_table_exists(*db, "_rv_kill_old"));
  let_write(writer, 100);
  const RunResult cleanup = run_sluice({"cleanup", "--dsn", dsn(), "--table", "rv_kill"});
  INFO(cleanup.out << cleanup.err);
  CHECK(cleanup.exit_code == 0);
  CHECK(cleanup.out.find("gave the old table back its name _rv_kill_old") != std::string::npos);
  CHECK(mysql_table_exists(*db, "_rv_kill_old"));
  CHECK_FALSE(mysql_table_exists(*db, "rv_kill_sluice_new"));
  // Killed again, then resumed by the same command.
  kill_revert();
  let_write(writer, 100);
  const RunResult resumed = revert("rv-kill");
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("resuming revert") != std::string::npos);
  CHECK(mysql_column_type(*db, "rv_kill", "k") == "int(11)");
  CHECK(phase_of(*db, "rv-kill") == "reverted");
  let_write(writer, 50);
  writer.stop();
  check_twin(*db, "rv_kill");
}

TEST_CASE("a revert that would lose data is refused unless allowed, and changes nothing") {
  auto db = mysql_admin();
  forget(*db, "rv_lossy");
  create_typed_table(*db, "rv_lossy", "rv_lossy_twin", 500, false);
  // Asked for up front, a lossy revert is refused before anything is written.
  check_refusal(alter("rv_lossy", "rv-lossy-0", "ADD COLUMN extra INT NOT NULL DEFAULT 1",
                      {"--force-rebuild", "--revertible"}),
                5, "--revertible: reverting this change would lose data");
  CHECK(mysql_column_type(*db, "rv_lossy", "extra").empty());
  CHECK_FALSE(mysql_table_exists(*db, "rv_lossy_sluice_new"));
  REQUIRE(
      alter("rv_lossy", "rv-lossy", "ADD COLUMN extra INT NOT NULL DEFAULT 1", {"--force-rebuild"})
          .exit_code == 0);
  check_refusal(revert("rv-lossy"), 5, "would lose data");
  CHECK(mysql_column_type(*db, "rv_lossy", "extra") == "int(11)");
  CHECK(mysql_table_exists(*db, "_rv_lossy_old"));
  CHECK(phase_of(*db, "rv-lossy") == "switched");
  const RunResult allowed = revert("rv-lossy", {"--allow-lossy-revert"});
  INFO(allowed.err);
  REQUIRE(allowed.exit_code == 0);
  CHECK(mysql_column_type(*db, "rv_lossy", "extra").empty());
  check_twin(*db, "rv_lossy");
}

TEST_CASE("--revertible refuses before its swap a change whose revert would discard rows") {
  auto db = mysql_admin();
  forget(*db, "rv_uq");
  create_typed_table(*db, "rv_uq", "rv_uq_twin", 300, false);
  // Dropping the old table's UNIQUE key: rows written since that repeat a code could not go back.
  const RunResult refused =
      alter("rv_uq", "rv-uq", "DROP INDEX code", {"--force-rebuild", "--revertible"});
  INFO(refused.err);
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("--revertible: reverting this change would lose data") !=
        std::string::npos);
  CHECK(refused.err.find("UNIQUE key `code`") != std::string::npos);
  CHECK(db->query("SHOW INDEX FROM rv_uq WHERE Key_name = 'code'").size() == 1);
  CHECK_FALSE(mysql_table_exists(*db, "rv_uq_sluice_new"));
  CHECK_FALSE(mysql_table_exists(*db, "_rv_uq_old"));
  CHECK(phase_of(*db, "rv-uq") == "aborted");
  const RunResult allowed = alter("rv_uq", "rv-uq-2", "DROP INDEX code",
                                  {"--force-rebuild", "--revertible", "--allow-lossy-revert"});
  INFO(allowed.err);
  REQUIRE(allowed.exit_code == 0);
  CHECK(db->query("SHOW INDEX FROM rv_uq WHERE Key_name = 'code'").empty());
}

TEST_CASE("a revert past its window, of a contracted run or of an unknown one is refused") {
  auto db = mysql_admin();
  forget(*db, "rv_late");
  create_typed_table(*db, "rv_late", "rv_late_twin", 200, false);
  REQUIRE(
      alter("rv_late", "rv-late", "MODIFY k BIGINT NOT NULL DEFAULT 0", {"--revert-window", "1s"})
          .exit_code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  check_refusal(revert("rv-late"), 5, "past its revert window of 1 s");
  CHECK(mysql_column_type(*db, "rv_late", "k") == "bigint(20)");
  CHECK(mysql_table_exists(*db, "_rv_late_old"));
  REQUIRE(run_sluice({"contract", "--dsn", dsn(), "rv-late"}).exit_code == 0);
  check_refusal(revert("rv-late"), 5, "contracted");
  check_refusal(revert("rv-nosuch"), 4, "no migration named 'rv-nosuch'");
}

TEST_CASE("a revert whose binlog was purged is refused and changes nothing") {
  // A server of its own: purging the shared server's binlogs would cut other tests' streams.
  PrivateServer server(ServerKind::mysql, "");
  auto db =
      std::make_unique<sluice::mysql::Connection>(sluice::parse_dsn(server.dsn()), std::nullopt);
  create_typed_table(*db, "rv_purged", "rv_purged_twin", 200, false);
  REQUIRE(run_sluice({"alter", "--dsn", server.dsn(), "--table", "rv_purged", "--alter",
                      "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--name", "rv-purged"})
              .exit_code == 0);
  const std::string first = db->query("SHOW BINARY LOGS").at(0).at(0).value_or("");
  db->execute("FLUSH BINARY LOGS");
  const std::string current = db->query("SHOW MASTER STATUS").at(0).at(0).value_or("");
  // The server keeps a file while a dump thread reads it: sluice's ended stream's, for a moment.
  REQUIRE(eventually(
      [&] {
        db->execute("PURGE BINARY LOGS TO " + db->quote_literal(current));
        return db->query("SHOW BINARY LOGS").at(0).at(0).value_or("") != first;
      },
      std::chrono::seconds(30)));
  check_refusal(run_sluice({"revert", "--dsn", server.dsn(), "rv-purged"}), 6, "no longer holds");
  CHECK(mysql_table_exists(*db, "_rv_purged_old"));
  CHECK_FALSE(mysql_table_exists(*db, "rv_purged_sluice_new"));
}

// `sluice revert` on a real PostgreSQL 15 (docs/alter.md, "Revert"): a --revertible migration
// undone after its cut-over keeps every write made under the new schema, under the twin-table
// writer running before, during and after both cut-overs, and a revert can be reverted in turn; a
// revert killed with SIGKILL resumes, and `sluice cleanup` gives its adopted old table back while
// the reverse slot stays; refusals (lossy, past the window, reverse slot gone, contracted, not
// --revertible) change nothing, and the reverse slot goes when revertibility ends.
#include <doctest/doctest.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/pg_table_writer.h"
#include "integration/row_diff.h"
#include "integration/support.h"
#include "src/phase_store.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::postgres);
}

// The reverse slot of `table` (pg_revert.h), if it exists: sluice_revert_<oid>.
std::optional<std::string> reverse_slot(sluice::postgres::Connection& db,
                                        const std::string& table) {
  return db.query_value(
      "SELECT slot_name::text FROM pg_replication_slots WHERE slot_name = 'sluice_revert_' || "
      "to_regclass($1)::oid::text",
      {"public.\"" + table + "\""});
}

// Records and slots an earlier run of this program left: its tables were dropped since, so a
// reverse slot named after an oid no table has is stale.
void forget(sluice::postgres::Connection& db, const std::string& prefix) {
  phase_store(sluice::parse_dsn(dsn()), std::nullopt)->ensure_schema();
  db.query("DELETE FROM sluice.migrations WHERE name LIKE $1", {"%" + prefix + "%"});
  db.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE "
      "'sluice\\_revert\\_%' AND NOT active AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE "
      "'sluice_revert_' || c.oid::text = slot_name)");
  for (const auto& row :
       db.query("SELECT quote_ident(pubname) FROM pg_publication WHERE pubname LIKE "
                "'sluice\\_revert\\_%' AND NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE "
                "slot_name = pubname)")) {
    db.execute("DROP PUBLICATION IF EXISTS " + row[0].value_or(""));
  }
}

std::string phase_of(const std::string& name) {
  RunResult status = run_sluice({"status", "--dsn", dsn(), name, "--json"});
  REQUIRE(status.exit_code == 0);
  return nlohmann::json::parse(status.out)["phase"].get<std::string>();
}

RunResult alter(const std::string& table, const std::string& name, const std::string& change,
                const std::vector<std::string>& extra = {"--revertible"}) {
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
void let_write(const PgTableWriter& writer, std::uint64_t count) {
  const std::uint64_t target = writer.transactions() + count;
  REQUIRE(eventually([&] { return writer.transactions() >= target; }, std::chrono::seconds(60)));
}

void check_twin(sluice::postgres::Connection& db, const std::string& table) {
  const Rows rows = pg_table_rows(db, table, table + "_twin", table);
  const Rows expected = pg_table_rows(db, table + "_twin", table, table);
  CHECK(rows.size() == expected.size());
  CHECK_MESSAGE(rows == expected, first_difference(rows, expected));
  CHECK(pg_table_shape(db, table) == pg_table_shape(db, table + "_twin"));
}

}  // namespace

TEST_CASE("a revertible migration reverted under writes keeps every write made since its swap") {
  auto db = postgres_admin();
  forget(*db, "pg-rv-main");
  create_pg_table(*db, "pg_rv_main", "pg_rv_main_twin", 3000, false);
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_rv_main", "pg_rv_main_twin");
  writer.start();
  const RunResult forward = alter("pg_rv_main", "pg-rv-main", "ALTER COLUMN k TYPE bigint");
  INFO(forward.err);
  REQUIRE(forward.exit_code == 0);
  CHECK(forward.err.find("sluice revert can undo the migration") != std::string::npos);
  CHECK(reverse_slot(*db, "pg_rv_main"));
  const RunResult status = run_sluice({"status", "--dsn", dsn(), "pg-rv-main"});
  CHECK(status.out.find("revertible until") != std::string::npos);
  CHECK(status.out.find("its reverse slot sluice_revert_") != std::string::npos);
  const RunResult slots = run_sluice({"slots", "--dsn", dsn()});
  CHECK(slots.out.find("(reverse slot: sluice revert") != std::string::npos);
  // Inserts, updates with key changes, deletes and unique swaps, all under the new schema.
  let_write(writer, 200);
  const RunResult reverted = revert("pg-rv-main");
  INFO(reverted.err);
  REQUIRE(reverted.exit_code == 0);
  // Every write came through the reverse slot: verification had nothing to repair.
  CHECK(reverted.err.find("verification found") == std::string::npos);
  CHECK(pg_column_type(*db, "pg_rv_main", "k") == "integer");
  CHECK(phase_of("pg-rv-main") == "reverted");
  CHECK(phase_of("revert-pg-rv-main") == "switched");
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_main_new"));
  // The table swapped out keeps the new schema under the old table's name; the index and
  // constraint names are the table's again.
  CHECK(pg_column_type(*db, "_pg_rv_main_old", "k") == "bigint");
  CHECK(db->query_value("SELECT conname FROM pg_constraint WHERE conrelid = "
                        "'pg_rv_main'::regclass AND contype = 'p'") == "pg_rv_main_pkey");
  // The slot the revert read is gone; the revert's own reverse slot keeps it revertible.
  CHECK(reverse_slot(*db, "_pg_rv_main_old") == std::nullopt);
  CHECK(reverse_slot(*db, "pg_rv_main"));
  let_write(writer, 100);
  const RunResult again = revert("revert-pg-rv-main");
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(pg_column_type(*db, "pg_rv_main", "k") == "bigint");
  let_write(writer, 100);
  writer.stop();
  check_twin(*db, "pg_rv_main");
  check_refusal(revert("pg-rv-main"), 5, "reverted already");
  // Contracting ends revertibility: the reverse slot no longer retains WAL.
  REQUIRE(reverse_slot(*db, "pg_rv_main"));
  REQUIRE(run_sluice({"contract", "--dsn", dsn(), "revert-revert-pg-rv-main"}).exit_code == 0);
  CHECK(reverse_slot(*db, "pg_rv_main") == std::nullopt);
}

TEST_CASE("a revert killed with SIGKILL resumes; cleanup gives its old table back, not the slot") {
  auto db = postgres_admin();
  forget(*db, "pg-rv-kill");
  create_pg_table(*db, "pg_rv_kill", "pg_rv_kill_twin", 3000, false);
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_rv_kill", "pg_rv_kill_twin");
  writer.start();
  REQUIRE(alter("pg_rv_kill", "pg-rv-kill", "ALTER COLUMN k TYPE bigint").exit_code == 0);
  let_write(writer, 100);
  ScratchDir scratch;
  const auto kill_revert = [&] {
    scratch.touch("postpone");
    SluiceProcess run({"revert", "--dsn", dsn(), "pg-rv-kill", "--postpone-cutover-flag-file",
                       scratch.file("postpone")},
                      true);
    const bool verified =
        run.wait_for("the shadow table equals the original", std::chrono::seconds(120));
    INFO(run.out());
    REQUIRE(verified);
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
    scratch.remove("postpone");
  };
  kill_revert();
  // Killed before its cut-over: the old table is the revert's shadow, under the shadow's name.
  CHECK(pg_table_exists(*db, "_pg_rv_kill_new"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_kill_old"));
  let_write(writer, 100);
  const RunResult cleanup = run_sluice({"cleanup", "--dsn", dsn(), "--table", "pg_rv_kill"});
  INFO(cleanup.out << cleanup.err);
  CHECK(cleanup.exit_code == 0);
  CHECK(cleanup.out.find("gave the old table back its name _pg_rv_kill_old") != std::string::npos);
  CHECK(pg_table_exists(*db, "_pg_rv_kill_old"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_kill_new"));
  CHECK(reverse_slot(*db, "pg_rv_kill"));
  // Killed again, then resumed by the same command.
  kill_revert();
  let_write(writer, 100);
  const RunResult resumed = revert("pg-rv-kill");
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("resuming revert") != std::string::npos);
  CHECK(resumed.err.find("verification found") == std::string::npos);
  CHECK(pg_column_type(*db, "pg_rv_kill", "k") == "integer");
  CHECK(phase_of("pg-rv-kill") == "reverted");
  let_write(writer, 50);
  writer.stop();
  check_twin(*db, "pg_rv_kill");
  // The revert is revertible in turn until contracted, which drops its reverse slot.
  REQUIRE(reverse_slot(*db, "pg_rv_kill"));
  REQUIRE(run_sluice({"contract", "--dsn", dsn(), "revert-pg-rv-kill-2"}).exit_code == 0);
  CHECK(reverse_slot(*db, "pg_rv_kill") == std::nullopt);
}

TEST_CASE("a revert that would lose data is refused unless allowed, and changes nothing") {
  auto db = postgres_admin();
  forget(*db, "pg-rv-lossy");
  create_pg_table(*db, "pg_rv_lossy", "pg_rv_lossy_twin", 500, false);
  const std::string change = "ADD COLUMN extra integer NOT NULL DEFAULT 1";
  // Asked for up front, a lossy revert is refused before anything is written.
  check_refusal(alter("pg_rv_lossy", "pg-rv-lossy-0", change, {"--force-rebuild", "--revertible"}),
                5, "--revertible: reverting this change would lose data");
  CHECK(pg_column_type(*db, "pg_rv_lossy", "extra").empty());
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_lossy_new"));
  REQUIRE(alter("pg_rv_lossy", "pg-rv-lossy", change,
                {"--force-rebuild", "--revertible", "--allow-lossy-revert"})
              .exit_code == 0);
  check_refusal(revert("pg-rv-lossy"), 5, "would lose data");
  CHECK(pg_column_type(*db, "pg_rv_lossy", "extra") == "integer");
  CHECK(pg_table_exists(*db, "_pg_rv_lossy_old"));
  CHECK(phase_of("pg-rv-lossy") == "switched");
  const RunResult allowed = revert("pg-rv-lossy", {"--allow-lossy-revert"});
  INFO(allowed.err);
  REQUIRE(allowed.exit_code == 0);
  CHECK(pg_column_type(*db, "pg_rv_lossy", "extra").empty());
  check_twin(*db, "pg_rv_lossy");
  REQUIRE(run_sluice({"contract", "--dsn", dsn(), "revert-pg-rv-lossy"}).exit_code == 0);
  CHECK(reverse_slot(*db, "pg_rv_lossy") == std::nullopt);
}

TEST_CASE("--revertible refuses before its swap a change whose revert would stop on duplicates") {
  auto db = postgres_admin();
  forget(*db, "pg-rv-uq");
  create_pg_table(*db, "pg_rv_uq", "pg_rv_uq_twin", 300, false);
  const std::string count =
      "SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'pg_rv_uq'::regclass AND "
      "contype = 'u'";
  // Dropping the old table's unique constraint: a row written since that repeats a code could
  // not go back.
  const RunResult refused = alter("pg_rv_uq", "pg-rv-uq", "DROP CONSTRAINT pg_rv_uq_code_key",
                                  {"--force-rebuild", "--revertible"});
  INFO(refused.err);
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("--revertible: reverting this change would lose data") !=
        std::string::npos);
  CHECK(refused.err.find("unique index \"pg_rv_uq_code_key\"") != std::string::npos);
  CHECK(db->query_value(count) == "1");
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_uq_new"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_uq_old"));
  CHECK(reverse_slot(*db, "pg_rv_uq") == std::nullopt);
  CHECK(phase_of("pg-rv-uq") == "aborted");
  const RunResult allowed = alter("pg_rv_uq", "pg-rv-uq-2", "DROP CONSTRAINT pg_rv_uq_code_key",
                                  {"--force-rebuild", "--revertible", "--allow-lossy-revert"});
  INFO(allowed.err);
  REQUIRE(allowed.exit_code == 0);
  CHECK(db->query_value(count) == "0");
  REQUIRE(run_sluice({"contract", "--dsn", dsn(), "pg-rv-uq-2"}).exit_code == 0);
}

TEST_CASE("a revert past its window, without its slot or of a contracted run is refused") {
  auto db = postgres_admin();
  forget(*db, "pg-rv-late");
  create_pg_table(*db, "pg_rv_late", "pg_rv_late_twin", 200, false);
  REQUIRE(alter("pg_rv_late", "pg-rv-late", "ALTER COLUMN k TYPE bigint",
                {"--revertible", "--revert-window", "1s"})
              .exit_code == 0);
  REQUIRE(reverse_slot(*db, "pg_rv_late"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  check_refusal(revert("pg-rv-late"), 5, "past its revert window of 1 s");
  CHECK(pg_column_type(*db, "pg_rv_late", "k") == "bigint");
  CHECK(pg_table_exists(*db, "_pg_rv_late_old"));
  // The window is over: the reverse slot no longer retains WAL.
  CHECK(reverse_slot(*db, "pg_rv_late") == std::nullopt);

  // Its slot dropped by hand: refused with the stream's exit code, nothing changed.
  forget(*db, "pg-rv-gone");
  create_pg_table(*db, "pg_rv_gone", "pg_rv_gone_twin", 200, false);
  REQUIRE(alter("pg_rv_gone", "pg-rv-gone", "ALTER COLUMN k TYPE bigint").exit_code == 0);
  const std::optional<std::string> slot = reverse_slot(*db, "pg_rv_gone");
  REQUIRE(slot);
  db->query("SELECT pg_drop_replication_slot($1)", {*slot});
  check_refusal(revert("pg-rv-gone"), 6, "reverse replication slot dropped or invalidated");
  CHECK(pg_column_type(*db, "pg_rv_gone", "k") == "bigint");
  CHECK(pg_table_exists(*db, "_pg_rv_gone_old"));
  CHECK(phase_of("pg-rv-gone") == "switched");

  // A later run of the table ends the earlier one's revertibility: sluice check says so up front,
  // the later cut-over drops the reverse slot, and reverting the earlier run is refused.
  forget(*db, "pg-rv-next");
  db->execute("DROP TABLE IF EXISTS _pg_rv_next_old2");
  create_pg_table(*db, "pg_rv_next", "pg_rv_next_twin", 200, false);
  REQUIRE(alter("pg_rv_next", "pg-rv-next-1", "ALTER COLUMN k TYPE bigint").exit_code == 0);
  const RunResult check = run_sluice({"check", "--dsn", dsn(), "--table", "pg_rv_next"});
  CHECK(check.out.find("reverse_slot") != std::string::npos);
  REQUIRE(alter("pg_rv_next", "pg-rv-next-2", "ALTER COLUMN name TYPE text", {}).exit_code == 0);
  CHECK(reverse_slot(*db, "pg_rv_next") == std::nullopt);
  CHECK(reverse_slot(*db, "_pg_rv_next_old2") == std::nullopt);
  check_refusal(revert("pg-rv-next-1"), 5, "can no longer be reverted on its own");
  CHECK(pg_column_type(*db, "pg_rv_next", "k") == "bigint");

  // Contracted: the old table is gone, and so is the reverse slot.
  forget(*db, "pg-rv-done");
  create_pg_table(*db, "pg_rv_done", "pg_rv_done_twin", 200, false);
  REQUIRE(alter("pg_rv_done", "pg-rv-done", "ALTER COLUMN k TYPE bigint").exit_code == 0);
  REQUIRE(reverse_slot(*db, "pg_rv_done"));
  const RunResult contracted = run_sluice({"contract", "--dsn", dsn(), "pg-rv-done"});
  REQUIRE(contracted.exit_code == 0);
  CHECK(contracted.err.find("sluice revert can no longer undo it") != std::string::npos);
  CHECK(reverse_slot(*db, "pg_rv_done") == std::nullopt);
  check_refusal(revert("pg-rv-done"), 5, "contracted");
}

TEST_CASE("a revert whose cast back does not undo the migration is refused and changes nothing") {
  auto db = postgres_admin();
  forget(*db, "pg-rv-round");
  create_pg_table(*db, "pg_rv_round", "pg_rv_round_twin", 300, false);
  // Rounding to one decimal is lossless to revert by type (numeric(12,1) fits numeric(12,3)),
  // but casting back does not bring the rounded digits back: the old table keeps them.
  REQUIRE(alter("pg_rv_round", "pg-rv-round", "ALTER COLUMN amount TYPE numeric(12,1)").exit_code ==
          0);
  const RunResult refused = revert("pg-rv-round");
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("casting each column back does not undo the migration") !=
        std::string::npos);
  // Nothing re-copied into the old table: it still equals the twin, row for row.
  CHECK(pg_column_type(*db, "pg_rv_round", "amount") == "numeric(12,1)");
  REQUIRE(pg_table_exists(*db, "_pg_rv_round_old"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_rv_round_new"));
  const auto kept = pg_table_rows(*db, "_pg_rv_round_old", "pg_rv_round_twin", "pg_rv_round_twin");
  const auto expected =
      pg_table_rows(*db, "pg_rv_round_twin", "_pg_rv_round_old", "pg_rv_round_twin");
  CHECK_MESSAGE(kept == expected, first_difference(kept, expected));
  CHECK(phase_of("pg-rv-round") == "switched");
  CHECK(phase_of("revert-pg-rv-round") == "aborted");
  // The reverse slot stays with the run, which contract ends.
  CHECK(reverse_slot(*db, "pg_rv_round"));
  REQUIRE(run_sluice({"contract", "--dsn", dsn(), "pg-rv-round"}).exit_code == 0);
  CHECK(reverse_slot(*db, "pg_rv_round") == std::nullopt);
}

// Faults on a real MariaDB while `sluice alter` copies under a concurrent writer: sluice's
// sessions killed again and again (KILL, which cuts a statement mid-way), the server restarted,
// the server gone for longer than sluice waits for it. Each run ends equal to the source row for
// row (the writer applies every transaction to a twin table too).
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "integration/faults.h"
#include "integration/support.h"
#include "integration/table_writer.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

const std::string kAlter = "MODIFY k BIGINT NOT NULL DEFAULT 0";

bool exists(sluice::mysql::Connection& db, const std::string& table) {
  return !db.query("SHOW TABLES LIKE " + db.quote_literal(table)).empty();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("sluice's sessions killed again and again mid-copy: it reconnects and finishes") {
  const std::string admin = server_dsn(ServerKind::mysql);
  const FaultUser user = fault_user(ServerKind::mysql, admin);
  auto db = mysql_admin();
  create_typed_table(*db, "ft_kill", "ft_kill_twin", 120000, false);
  forget_run(ServerKind::mysql, admin, "ft-kill");
  TableWriter writer(sluice::parse_dsn(admin), "ft_kill", "ft_kill_twin");
  writer.start();
  SluiceProcess run({"alter", "--dsn", user.dsn, "--table", "ft_kill", "--alter", kAlter,
                     "--execute", "--name", "ft-kill", "--chunk-time", "20"},
                    /*with_stderr=*/true);
  REQUIRE(wait_for_checkpoint(admin, "ft-kill"));
  // Every session: the copier's, the applier's, the binlog dump, the phase metadata's, the
  // lease's. Spaced so that each loss is survived on its own and the copy still makes progress.
  int rounds_with_kills = 0;
  int exit_code = -1;
  for (int round = 0; round < 15 && exit_code == -1; ++round) {
    if (kill_fault_sessions(ServerKind::mysql, admin) > 0) {
      ++rounds_with_kills;
    }
    exit_code = run.wait(std::chrono::milliseconds(250));
  }
  if (exit_code == -1) {
    exit_code = run.wait(std::chrono::seconds(120));
  }
  writer.stop();
  INFO(run.out());
  REQUIRE(exit_code == 0);
  CHECK(rounds_with_kills >= 3);
  MESSAGE(rounds_with_kills << " rounds of kills; the writer committed " << writer.transactions()
                            << " transactions");
  CHECK(contains(run.out(), "lost the connection during"));
  CHECK(contains(run.out(), "reconnected to"));
  CHECK(contains(run.out(), "binlog stream from"));
  CHECK(writer.transactions() > 0);
  CHECK(table_rows(*db, "ft_kill", "ft_kill_twin") == table_rows(*db, "ft_kill_twin", "ft_kill"));
  CHECK_FALSE(exists(*db, "ft_kill_sluice_new"));
  CHECK(run_phase(admin, "ft-kill") == "switched");
}

TEST_CASE("a MariaDB restart mid-copy: the migration continues once the server is back") {
  PrivateServer server(ServerKind::mysql, "");
  sluice::mysql::Connection setup(sluice::parse_dsn(server.dsn()), std::nullopt);
  create_typed_table(setup, "ft_restart", "ft_restart_twin", 120000, false);
  TableWriter writer(sluice::parse_dsn(server.dsn()), "ft_restart", "ft_restart_twin");
  writer.start();
  SluiceProcess run({"alter", "--dsn", server.dsn(), "--table", "ft_restart", "--alter", kAlter,
                     "--execute", "--name", "ft-restart", "--chunk-time", "20"},
                    /*with_stderr=*/true);
  REQUIRE(wait_for_checkpoint(server.dsn(), "ft-restart"));
  server.restart();
  const int exit_code = run.wait(std::chrono::seconds(120));
  writer.stop();
  INFO(run.out());
  REQUIRE(exit_code == 0);
  CHECK(contains(run.out(), "lost the connection during"));
  CHECK(writer.reconnects() > 0);
  sluice::mysql::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  CHECK(table_rows(db, "ft_restart", "ft_restart_twin") ==
        table_rows(db, "ft_restart_twin", "ft_restart"));
  CHECK(run_phase(server.dsn(), "ft-restart") == "switched");
}

TEST_CASE("MariaDB gone longer than --reconnect-timeout: a one-line error, then --resume") {
  PrivateServer server(ServerKind::mysql, "");
  sluice::mysql::Connection setup(sluice::parse_dsn(server.dsn()), std::nullopt);
  create_typed_table(setup, "ft_down", "ft_down_twin", 120000, false);
  TableWriter writer(sluice::parse_dsn(server.dsn()), "ft_down", "ft_down_twin");
  writer.start();
  SluiceProcess run(
      {"alter", "--dsn", server.dsn(), "--table", "ft_down", "--alter", kAlter, "--execute",
       "--name", "ft-down", "--chunk-time", "20", "--reconnect-timeout", "2"},
      /*with_stderr=*/true);
  REQUIRE(wait_for_checkpoint(server.dsn(), "ft-down"));
  server.restart(std::chrono::seconds(5));
  const int exit_code = run.wait(std::chrono::seconds(60));
  INFO(run.out());
  CHECK(exit_code == 3);
  CHECK(contains(run.out(), "sluice: error: lost the connection to the server during"));
  CHECK(contains(run.out(), "--resume ft-down"));
  sluice::mysql::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  // Kept for the resume, and the original table is the application's still.
  CHECK(exists(db, "ft_down_sluice_new"));
  CHECK(run_phase(server.dsn(), "ft-down") == "backfilling");
  // The run could not release its lease while the server was down.
  expire_lease(ServerKind::mysql, server.dsn(), "ft-down");
  RunResult resumed = run_sluice({"alter", "--dsn", server.dsn(), "--resume", "ft-down"});
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(table_rows(db, "ft_down", "ft_down_twin") == table_rows(db, "ft_down_twin", "ft_down"));
  CHECK_FALSE(exists(db, "ft_down_sluice_new"));
}

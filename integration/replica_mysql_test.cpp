// A MariaDB primary with a GTID replica (scripts/dbs start --replica, a private pair per test
// case): a migration arrives intact downstream, replication survives the cut-over, and real
// replica lag throttles the copy. Conditions are awaited with generous deadlines; no test
// asserts a duration.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/expand_contract_scenarios.h"
#include "integration/replicas.h"
#include "integration/row_diff.h"
#include "integration/support.h"
#include "integration/table_writer.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kLimit = 120s;

std::unique_ptr<sluice::mysql::Connection> connect(const std::string& dsn) {
  return std::make_unique<sluice::mysql::Connection>(sluice::parse_dsn(dsn), std::nullopt);
}

// After a migration of `table` on the primary: the replica has the same table, equal to the
// primary's twin row for row, every other table equal too, replication healthy and no helper
// table on either side.
void check_replica(const PrivateServer& server, const std::string& table) {
  wait_for_replica(server.dsn(), server.replica_dsn());
  auto primary = connect(server.dsn());
  auto replica = connect(server.replica_dsn());
  const std::string twin = table + "_twin";
  const Rows expected = table_rows(*primary, twin, table);
  const Rows on_replica = table_rows(*replica, table, twin);
  CHECK(on_replica.size() == expected.size());
  CHECK_MESSAGE(on_replica == expected, first_difference(on_replica, expected));
  CHECK(mysql_column_type(*replica, table, "k") == mysql_column_type(*primary, table, "k"));
  check_replica_equals_primary(server.dsn(), server.replica_dsn());
  const auto primary_session = open_session(sluice::parse_dsn(server.dsn()));
  const auto replica_session = open_session(sluice::parse_dsn(server.replica_dsn()));
  CHECK(leftovers(*primary_session) == "");
  CHECK(leftovers(*replica_session) == "");
}

}  // namespace

TEST_CASE("an alter under the twin-table writer arrives on the replica row for row") {
  PrivateServer server(ServerKind::mysql, "", true);
  auto primary = connect(server.dsn());
  const std::string table = "rep_alter";
  create_typed_table(*primary, table, table + "_twin", 8000, false);
  TableWriter writer(sluice::parse_dsn(server.dsn()), table, table + "_twin");
  writer.start();
  std::this_thread::sleep_for(200ms);
  const RunResult run = run_sluice({"alter", "--dsn", server.dsn(), "--table", table, "--alter",
                                    "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute",
                                    "--chunk-time", "20", "--drop-old-table"});
  std::this_thread::sleep_for(300ms);
  writer.stop();
  INFO("sluice stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(writer.transactions() > 0);
  CHECK(mysql_column_type(*primary, table, "k") == "bigint(20)");
  CHECK(table_rows(*primary, table, table + "_twin") ==
        table_rows(*primary, table + "_twin", table));
  check_replica(server, table);
}

TEST_CASE("an expand-contract rename through contract arrives on the replica") {
  PrivateServer server(ServerKind::mysql, "", true);
  rename_through_every_phase(mysql_scenario(server.dsn()));
  wait_for_replica(server.dsn(), server.replica_dsn());
  check_replica_equals_primary(server.dsn(), server.replica_dsn());
  const auto replica = open_session(sluice::parse_dsn(server.replica_dsn()));
  CHECK(replica->value("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                       "'sluice_test' AND TABLE_NAME = 'ec_rename' AND COLUMN_NAME = 'mail'") ==
        "1");
  CHECK(leftovers(*replica) == "");
  CHECK(leftovers(*open_session(sluice::parse_dsn(server.dsn()))) == "");
}

TEST_CASE(
    "a stopped SQL thread on the replica pauses the copy, naming the lag; restarting it "
    "resumes the copy") {
  PrivateServer server(ServerKind::mysql, "", true);
  auto primary = connect(server.dsn());
  auto replica = connect(server.replica_dsn());
  const std::string table = "rep_lag";
  create_typed_table(*primary, table, table + "_twin", 20000, false);
  wait_for_replica(server.dsn(), server.replica_dsn());
  ScratchDir scratch;
  const std::string flag = scratch.file("throttle");
  std::ofstream(flag) << "";
  TableWriter writer(sluice::parse_dsn(server.dsn()), table, table + "_twin");
  writer.start();
  // The flag file holds the copy at its start, so the SQL thread stops before any chunk.
  SluiceProcess sluice({"alter",
                        "--dsn",
                        server.dsn(),
                        "--table",
                        table,
                        "--alter",
                        "MODIFY k BIGINT NOT NULL DEFAULT 0",
                        "--execute",
                        "--chunk-size",
                        "500",
                        "--json",
                        "--status-interval",
                        "0.2",
                        "--max-lag-millis",
                        "1000",
                        "--throttle-control-replicas",
                        server.replica_dsn(),
                        "--throttle-flag-file",
                        flag,
                        "--drop-old-table"},
                       true);
  REQUIRE(sluice.wait_for("throttle flag file", kLimit));
  // The throttler reads the replicas about once a second whether or not the flag file holds the
  // copy: its log line names the stopped thread and the measured lag. Only then does the flag
  // go, so the copy cannot finish in the moment before the next reading.
  replica->execute("STOP SLAVE SQL_THREAD");
  const std::string stopped = "is not replicating (Slave_SQL_Running: No)";
  REQUIRE_MESSAGE(sluice.wait_for("throttling: replica ", kLimit), sluice.out());
  REQUIRE(sluice.wait_for(stopped, kLimit));
  std::filesystem::remove(flag);
  REQUIRE(sluice.wait_for("\"throttle_reason\":\"replica ", kLimit));
  // The pause, observed: the lag the reason names grows while the writer's transactions wait
  // on the replica, and the copied row count stays put across status events.
  const auto deadline = std::chrono::steady_clock::now() + kLimit;
  std::vector<nlohmann::json> paused;
  while (paused.empty() ||
         paused.back()["throttle_reason"].get<std::string>().ends_with(", 0 ms behind")) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    sluice.read_lines(std::count(sluice.out().begin(), sluice.out().end(), '\n') + 1, 1s);
    paused = status_events(sluice.out(), "paused");
  }
  const std::string reason = paused.back()["throttle_reason"];
  MESSAGE("throttled by: " << reason);
  CHECK(reason.find(stopped) != std::string::npos);
  CHECK(reason.find(" ms behind") != std::string::npos);
  const auto copied = paused.back()["rows_copied"];
  sluice.read_lines(std::count(sluice.out().begin(), sluice.out().end(), '\n') + 6, 10s);
  CHECK(status_events(sluice.out(), "paused").back()["rows_copied"] == copied);
  CHECK(copied.get<long>() < 20000);

  replica->execute("START SLAVE SQL_THREAD");
  REQUIRE(sluice.wait(kLimit) == 0);
  CHECK(sluice.out().find("no longer throttled") != std::string::npos);
  writer.stop();
  CHECK(table_rows(*primary, table, table + "_twin") ==
        table_rows(*primary, table + "_twin", table));
  check_replica(server, table);
}

TEST_CASE("a replica that cannot be reached throttles and says why") {
  PrivateServer server(ServerKind::mysql, "", false);
  auto primary = connect(server.dsn());
  create_typed_table(*primary, "rep_away", "rep_away_twin", 2000, false);
  ScratchDir scratch;
  // A port nothing listens on: the server's own port plus one is not ours to know, so use a
  // port in the privileged range that a test machine leaves closed.
  const std::string away = "mysql://root@127.0.0.1:1/sluice_test";
  SluiceProcess sluice(
      {"alter", "--dsn", server.dsn(), "--table", "rep_away", "--alter",
       "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--json", "--status-interval", "0.2",
       "--max-lag-millis", "1000", "--throttle-control-replicas", away, "--panic-flag-file",
       scratch.file("panic")},
      true);
  REQUIRE_MESSAGE(sluice.wait_for("cannot be read", kLimit), sluice.out());
  REQUIRE(sluice.wait_for("\"state\":\"paused\"", kLimit));
  const std::string reason = status_events(sluice.out(), "paused").back()["throttle_reason"];
  CHECK(reason.find("replica mysql://root@127.0.0.1:1") != std::string::npos);
  CHECK(reason.find("cannot be read") != std::string::npos);
  std::ofstream(scratch.file("panic")) << "";
  CHECK(sluice.wait(kLimit) == 7);
  CHECK(mysql_column_type(*primary, "rep_away", "k") == "int(11)");
}

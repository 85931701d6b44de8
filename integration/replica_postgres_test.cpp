// A PostgreSQL primary with a streaming standby (scripts/dbs start --replica: pg_basebackup -R,
// a private pair per test case): a migration arrives intact on the standby, streaming survives
// the cut-over, and real standby lag throttles the copy. Conditions are awaited with generous
// deadlines; no test asserts a duration.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/expand_contract_scenarios.h"
#include "integration/pg_table_writer.h"
#include "integration/replicas.h"
#include "integration/row_diff.h"
#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kLimit = 120s;

std::unique_ptr<sluice::postgres::Connection> connect(const std::string& dsn) {
  return std::make_unique<sluice::postgres::Connection>(sluice::parse_dsn(dsn), std::nullopt);
}

// After a migration of `table` on the primary: the standby replayed past it, its table equals
// the primary's twin row for row, every other table is equal too, the standby still streams,
// and neither side has a helper table, slot or publication left.
void check_standby(const PrivateServer& server, const std::string& table) {
  wait_for_replica(server.dsn(), server.replica_dsn());
  auto primary = connect(server.dsn());
  auto standby = connect(server.replica_dsn());
  const std::string twin = table + "_twin";
  const Rows expected = pg_table_rows(*primary, twin, table, table);
  const Rows on_standby = pg_table_rows(*standby, table, twin, table);
  CHECK(on_standby.size() == expected.size());
  CHECK_MESSAGE(on_standby == expected, first_difference(on_standby, expected));
  CHECK(pg_column_type(*standby, table, "k") == pg_column_type(*primary, table, "k"));
  check_replica_equals_primary(server.dsn(), server.replica_dsn());
  CHECK(leftovers(*open_session(sluice::parse_dsn(server.dsn()))) == "");
  CHECK(leftovers(*open_session(sluice::parse_dsn(server.replica_dsn()))) == "");
}

}  // namespace

TEST_CASE("an alter under the twin-table writer arrives on the standby row for row") {
  PrivateServer server(ServerKind::postgres, "", true);
  auto primary = connect(server.dsn());
  const std::string table = "rep_alter";
  create_pg_table(*primary, table, table + "_twin", 8000, false);
  PgTableWriter writer(sluice::parse_dsn(server.dsn()), table, table + "_twin");
  writer.start();
  std::this_thread::sleep_for(200ms);
  const RunResult run = run_sluice({"alter", "--dsn", server.dsn(), "--table", table, "--alter",
                                    "ALTER COLUMN k TYPE bigint", "--execute", "--chunk-time", "20",
                                    "--drop-old-table"});
  std::this_thread::sleep_for(300ms);
  writer.stop();
  INFO("sluice stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(writer.transactions() > 0);
  CHECK(pg_column_type(*primary, table, "k") == "bigint");
  CHECK(pg_table_rows(*primary, table, table + "_twin", table) ==
        pg_table_rows(*primary, table + "_twin", table, table));
  check_standby(server, table);
}

TEST_CASE("an expand-contract rename through contract arrives on the standby") {
  PrivateServer server(ServerKind::postgres, "", true);
  rename_through_every_phase(postgres_scenario(server.dsn()));
  wait_for_replica(server.dsn(), server.replica_dsn());
  check_replica_equals_primary(server.dsn(), server.replica_dsn());
  const auto standby = open_session(sluice::parse_dsn(server.replica_dsn()));
  CHECK(standby->value("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                       "'ec_rename' AND column_name = 'mail'") == "1");
  CHECK(leftovers(*standby) == "");
  CHECK(leftovers(*open_session(sluice::parse_dsn(server.dsn()))) == "");
}

TEST_CASE(
    "paused replay on the standby pauses the copy, naming the lag; resuming replay "
    "resumes the copy") {
  PrivateServer server(ServerKind::postgres, "", true);
  auto primary = connect(server.dsn());
  auto standby = connect(server.replica_dsn());
  const std::string table = "rep_lag";
  create_pg_table(*primary, table, table + "_twin", 20000, false);
  wait_for_replica(server.dsn(), server.replica_dsn());
  ScratchDir scratch;
  const std::string flag = scratch.file("throttle");
  std::ofstream(flag) << "";
  PgTableWriter writer(sluice::parse_dsn(server.dsn()), table, table + "_twin");
  writer.start();
  SluiceProcess sluice({"alter",
                        "--dsn",
                        server.dsn(),
                        "--table",
                        table,
                        "--alter",
                        "ALTER COLUMN k TYPE bigint",
                        "--execute",
                        "--chunk-size",
                        "500",
                        "--json",
                        "--status-interval",
                        "0.2",
                        "--max-lag-millis",
                        "1000",
                        "--throttle-control-replicas",
                        "dbs_standby",
                        "--throttle-flag-file",
                        flag,
                        "--drop-old-table"},
                       true);
  REQUIRE(sluice.wait_for("throttle flag file", kLimit));
  // The primary measures replay_lag from the standby's replies; while replay is paused and the
  // writer's WAL flows, it grows past the limit. The flag goes once the throttler has said so,
  // so the copy cannot finish before the next reading.
  standby->query("SELECT pg_wal_replay_pause()");
  REQUIRE_MESSAGE(sluice.wait_for("throttling: replica dbs_standby lags", kLimit), sluice.out());
  std::filesystem::remove(flag);
  REQUIRE(sluice.wait_for("\"throttle_reason\":\"replica dbs_standby lags", kLimit));
  sluice.read_lines(std::count(sluice.out().begin(), sluice.out().end(), '\n') + 6, 10s);
  const std::vector<nlohmann::json> paused = status_events(sluice.out(), "paused");
  REQUIRE_FALSE(paused.empty());
  const std::string reason = paused.back()["throttle_reason"];
  MESSAGE("throttled by: " << reason);
  CHECK(reason.find(" ms > 1000 ms") != std::string::npos);
  const auto copied = paused.back()["rows_copied"];
  sluice.read_lines(std::count(sluice.out().begin(), sluice.out().end(), '\n') + 6, 10s);
  CHECK(status_events(sluice.out(), "paused").back()["rows_copied"] == copied);
  CHECK(copied.get<long>() < 20000);

  standby->query("SELECT pg_wal_replay_resume()");
  REQUIRE(sluice.wait(kLimit) == 0);
  CHECK(sluice.out().find("no longer throttled") != std::string::npos);
  writer.stop();
  CHECK(pg_table_rows(*primary, table, table + "_twin", table) ==
        pg_table_rows(*primary, table + "_twin", table, table));
  check_standby(server, table);
}

TEST_CASE("a standby that is not connected throttles and says why, named or not") {
  PrivateServer server(ServerKind::postgres, "", false);
  auto primary = connect(server.dsn());
  create_pg_table(*primary, "rep_away", "rep_away_twin", 2000, false);
  for (const std::vector<std::string>& standbys :
       {std::vector<std::string>{"--throttle-control-replicas", "dbs_standby"},
        std::vector<std::string>{}}) {
    ScratchDir scratch;
    std::vector<std::string> args = {"alter",
                                     "--dsn",
                                     server.dsn(),
                                     "--table",
                                     "rep_away",
                                     "--alter",
                                     "ALTER COLUMN k TYPE bigint",
                                     "--execute",
                                     "--json",
                                     "--status-interval",
                                     "0.2",
                                     "--max-lag-millis",
                                     "1000",
                                     "--panic-flag-file",
                                     scratch.file("panic")};
    args.insert(args.end(), standbys.begin(), standbys.end());
    SluiceProcess sluice(args, true);
    REQUIRE_MESSAGE(sluice.wait_for("\"state\":\"paused\"", kLimit), sluice.out());
    const std::string reason = status_events(sluice.out(), "paused").back()["throttle_reason"];
    MESSAGE("throttled by: " << reason);
    CHECK(reason.find("is not replicating") != std::string::npos);
    std::ofstream(scratch.file("panic")) << "";
    CHECK(sluice.wait(kLimit) == 7);
    CHECK(pg_column_type(*primary, "rep_away", "k") == "integer");
  }
}

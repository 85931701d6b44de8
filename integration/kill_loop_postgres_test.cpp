// kill -9 of `sluice alter` at random moments of its copy, verification and cut-over on a real
// PostgreSQL 15 under a concurrent writer, then `--resume` until done (kill_loop.h). A handful of
// trials; 20 with SLUICE_LONG_SUITE=1 (scripts/test --long).
#include <doctest/doctest.h>

#include "integration/kill_loop.h"
#include "integration/pg_table_writer.h"
#include "integration/row_diff.h"
#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

class PgWriter : public KillLoopServer::Writer {
 public:
  PgWriter(const std::string& dsn, const std::string& table)
      : writer_(sluice::parse_dsn(dsn), table, table + "_twin") {
    writer_.start();
  }
  void stop() override { writer_.stop(); }
  std::uint64_t transactions() const override { return writer_.transactions(); }

 private:
  PgTableWriter writer_;
};

// A server of this test binary's own: the trials count sluice's slots, which runs of other test
// binaries on the shared server would add to.
const std::string& own_dsn() {
  static PrivateServer server(ServerKind::postgres, "");
  return server.dsn();
}

std::unique_ptr<sluice::postgres::Connection> own_admin() {
  return std::make_unique<sluice::postgres::Connection>(sluice::parse_dsn(own_dsn()), std::nullopt);
}

KillLoopServer postgresql() {
  KillLoopServer server;
  server.kind = ServerKind::postgres;
  server.dsn = own_dsn();
  server.alter = "ALTER COLUMN k TYPE bigint, ALTER COLUMN name TYPE text";
  server.rows = 40000;
  server.create_table = [](const std::string& table, int rows) {
    create_pg_table(*own_admin(), table, table + "_twin", rows, false);
  };
  server.start_writer = [dsn = server.dsn](const std::string& table) {
    return std::unique_ptr<KillLoopServer::Writer>(new PgWriter(dsn, table));
  };
  server.check_equal = [](const std::string& table) {
    auto db = own_admin();
    const Rows migrated = pg_table_rows(*db, table, table + "_twin", table);
    const Rows expected = pg_table_rows(*db, table + "_twin", table, table);
    CHECK(migrated.size() == expected.size());
    CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  };
  server.leftovers = [](const std::string& table) {
    auto db = own_admin();
    return db
        ->query_value(
            "SELECT string_agg(n, ', ') FROM (SELECT to_regclass($1)::text AS n UNION ALL SELECT "
            "slot_name::text FROM pg_replication_slots WHERE slot_name LIKE 'sluice_alter%' "
            "UNION ALL SELECT pubname::text FROM pg_publication WHERE pubname LIKE "
            "'sluice_alter%') o",
            {"\"_" + table + "_new\""})
        .value_or("");
  };
  return server;
}

}  // namespace

TEST_CASE("kill -9 at random moments, then --resume until done (PostgreSQL)") {
  const KillLoopServer server = postgresql();
  const int trials = kill_loop_trials();
  for (int trial = 0; trial < trials; ++trial) {
    kill_loop_trial(server, trial, 2000 + static_cast<std::uint64_t>(trial));
  }
}

// kill -9 of `sluice alter` at random moments of its copy, verification and cut-over on a real
// MariaDB under a concurrent writer, then `--resume` until done (kill_loop.h). A handful of
// trials; 20 with SLUICE_LONG_SUITE=1 (scripts/test --long).
#include <doctest/doctest.h>

#include "integration/kill_loop.h"
#include "integration/support.h"
#include "integration/table_writer.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

class MysqlWriter : public KillLoopServer::Writer {
 public:
  MysqlWriter(const std::string& dsn, const std::string& table)
      : writer_(sluice::parse_dsn(dsn), table, table + "_twin") {
    writer_.start();
  }
  void stop() override { writer_.stop(); }
  std::uint64_t transactions() const override { return writer_.transactions(); }

 private:
  TableWriter writer_;
};

KillLoopServer mariadb() {
  KillLoopServer server;
  server.kind = ServerKind::mysql;
  server.dsn = server_dsn(ServerKind::mysql);
  server.alter = "MODIFY k BIGINT NOT NULL DEFAULT 0";
  server.rows = 30000;
  server.create_table = [](const std::string& table, int rows) {
    create_typed_table(*mysql_admin(), table, table + "_twin", rows, false);
  };
  server.start_writer = [dsn = server.dsn](const std::string& table) {
    return std::unique_ptr<KillLoopServer::Writer>(new MysqlWriter(dsn, table));
  };
  server.check_equal = [](const std::string& table) {
    auto db = mysql_admin();
    CHECK(table_rows(*db, table, table + "_twin") == table_rows(*db, table + "_twin", table));
  };
  server.leftovers = [](const std::string& table) {
    auto db = mysql_admin();
    std::string left;
    for (const std::string& name : {table + "_sluice_new", table + "_sluice_old"}) {
      if (!db->query("SHOW TABLES LIKE " + db->quote_literal(name)).empty()) {
        left += name + " ";
      }
    }
    return left;
  };
  return server;
}

}  // namespace

TEST_CASE("kill -9 at random moments, then --resume until done (MariaDB)") {
  const KillLoopServer server = mariadb();
  const int trials = kill_loop_trials();
  for (int trial = 0; trial < trials; ++trial) {
    kill_loop_trial(server, trial, 1000 + static_cast<std::uint64_t>(trial));
  }
}

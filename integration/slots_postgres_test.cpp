// `sluice slots`: lists what a crashed stream left behind on PostgreSQL and drops it.
#include <doctest/doctest.h>

#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;

TEST_CASE("a leftover slot and publication are listed, then dropped; other slots are refused") {
  const std::string dsn = server_dsn(ServerKind::postgres);
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS slots_t; CREATE TABLE slots_t (id int PRIMARY KEY);"
      "DROP PUBLICATION IF EXISTS sluice_leftover_test;"
      "CREATE PUBLICATION sluice_leftover_test FOR TABLE slots_t");
  db->query("SELECT pg_create_logical_replication_slot('sluice_leftover_test', 'pgoutput')");
  db->query("SELECT pg_create_logical_replication_slot('someone_elses_slot', 'pgoutput')");

  RunResult listed = run_sluice({"slots", "--dsn", dsn});
  INFO(listed.out << listed.err);
  CHECK(listed.exit_code == 0);
  CHECK(listed.out.find("slot sluice_leftover_test database sluice_test inactive") !=
        std::string::npos);
  CHECK(listed.out.find("publication sluice_leftover_test") != std::string::npos);
  CHECK(listed.out.find("someone_elses_slot") == std::string::npos);

  RunResult refused = run_sluice({"slots", "--dsn", dsn, "--drop", "someone_elses_slot"});
  CHECK(refused.exit_code == 2);
  CHECK(db->query_value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                        "'someone_elses_slot'") == "1");

  RunResult dropped = run_sluice({"slots", "--dsn", dsn, "--drop", "sluice_leftover_test"});
  CHECK(dropped.exit_code == 0);
  CHECK(db->query_value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                        "'sluice_leftover_test'") == "0");
  CHECK(db->query_value("SELECT count(*) FROM pg_publication WHERE pubname = "
                        "'sluice_leftover_test'") == "0");
  CHECK(run_sluice({"slots", "--dsn", dsn, "--drop", "sluice_leftover_test"}).exit_code == 4);

  db->query("SELECT pg_drop_replication_slot('someone_elses_slot')");
  db->execute("DROP TABLE slots_t");
}

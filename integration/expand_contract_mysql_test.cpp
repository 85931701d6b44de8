// Expand-contract migrations on MariaDB (scenarios in expand_contract_scenarios.h).
#include <doctest/doctest.h>

#include "integration/expand_contract_scenarios.h"

using namespace sluice::test;

TEST_CASE("MySQL: a column rename goes through every phase while the application writes") {
  rename_through_every_phase(mysql_scenario());
}

TEST_CASE("MySQL: abort before switch puts the table back as it was") {
  abort_before_switch(mysql_scenario());
}

TEST_CASE("MySQL: one runner per migration; a killed backfill continues from its checkpoint") {
  runners_and_resumed_backfill(mysql_scenario());
}

TEST_CASE("MySQL: add-not-null, drop-column, add-index and rebuild, each to contract") {
  other_operations(mysql_scenario());
}

TEST_CASE("MySQL: a rebuild contracted with --archive restores row for row") {
  rebuild_archive_and_restore(mysql_scenario());
}

TEST_CASE("MySQL: sluice run advances a directory of migrations, never past a grace period") {
  nightly_run(mysql_scenario());
}

TEST_CASE("MySQL: backfill --repair rewrites exactly the rows that differ") {
  repair_differing_rows(mysql_scenario());
}

TEST_CASE("MySQL: add-index checks the index it finds, not only its name") {
  index_names_are_checked(mysql_scenario());
}

TEST_CASE("MySQL: the backfill never makes an application transaction fail") {
  backfill_yields_to_the_application(mysql_scenario());
}

TEST_CASE("MySQL: a re-run checks the column it added and refuses a name another object holds") {
  replaced_objects_are_refused(mysql_scenario());
}

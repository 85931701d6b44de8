// Expand-contract migrations on PostgreSQL (scenarios in expand_contract_scenarios.h).
#include <doctest/doctest.h>

#include "integration/expand_contract_scenarios.h"

using namespace sluice::test;

TEST_CASE("PostgreSQL: a column rename goes through every phase while the application writes") {
  rename_through_every_phase(postgres_scenario());
}

TEST_CASE("PostgreSQL: abort before switch puts the table back as it was") {
  abort_before_switch(postgres_scenario());
}

TEST_CASE("PostgreSQL: one runner per migration; a killed backfill continues from its checkpoint") {
  runners_and_resumed_backfill(postgres_scenario());
}

TEST_CASE("PostgreSQL: add-not-null, drop-column, add-index and rebuild, each to contract") {
  other_operations(postgres_scenario());
}

TEST_CASE("PostgreSQL: sluice run advances a directory of migrations, never past a grace period") {
  nightly_run(postgres_scenario());
}

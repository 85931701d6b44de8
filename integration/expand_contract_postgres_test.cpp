// Expand-contract migrations on PostgreSQL (scenarios in expand_contract_scenarios.h).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "integration/expand_contract_scenarios.h"
#include "integration/support.h"
#include "tests/doc_examples.h"

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

TEST_CASE("PostgreSQL: a rebuild contracted with --archive restores row for row") {
  rebuild_archive_and_restore(postgres_scenario());
}

TEST_CASE("PostgreSQL: sluice run advances a directory of migrations, never past a grace period") {
  nightly_run(postgres_scenario());
}

// Every migration-file example of README.md and docs/migrations.md, planned against tables that
// have the columns the examples name (the unit test checks that they parse).
TEST_CASE("PostgreSQL: sluice plan accepts every migration-file example of the docs") {
  auto db = postgres_admin();
  db->execute("DROP TABLE IF EXISTS customers, orders");
  db->execute("CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL)");
  db->execute("CREATE TABLE orders (id bigint PRIMARY KEY, amount integer)");
  const std::filesystem::path directory = std::filesystem::temp_directory_path() /
                                          ("sluice-doc-examples-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  int planned = 0;
  for (const char* doc : {"README.md", "docs/migrations.md"}) {
    for (const DocExample& example : migration_examples(SLUICE_SOURCE_DIR, doc)) {
      const std::filesystem::path file =
          directory / ("example-" + std::to_string(planned++) + "." + example.language);
      std::ofstream(file) << example.text;
      const RunResult plan =
          run_sluice({"plan", "--dsn", server_dsn(sluice::ServerKind::postgres), file.string()});
      INFO(example.where << "\n" << example.text << plan.out << plan.err);
      CHECK(plan.exit_code == 0);
    }
  }
  std::filesystem::remove_all(directory);
  CHECK(planned >= 3);
  db->execute("DROP TABLE customers, orders");
}

TEST_CASE("PostgreSQL: backfill --repair rewrites exactly the rows that differ") {
  repair_differing_rows(postgres_scenario());
}

TEST_CASE("PostgreSQL: add-index checks the index it finds, not only its name") {
  index_names_are_checked(postgres_scenario());
}

TEST_CASE("PostgreSQL: the backfill never makes an application transaction fail") {
  backfill_yields_to_the_application(postgres_scenario());
}

TEST_CASE(
    "PostgreSQL: a re-run checks the column it added and refuses a name another object holds") {
  replaced_objects_are_refused(postgres_scenario());
}

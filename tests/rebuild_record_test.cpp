#include <doctest/doctest.h>

#include <string>

#include "src/error.h"
#include "src/run_recorder.h"

TEST_CASE("a rebuild's record holds what a resumed run needs, and nothing else is guessed") {
  sluice::RebuildOptions options;
  options.alter = "MODIFY note TEXT";
  options.discard_duplicates = true;
  options.drop_old_table = true;
  const sluice::MigrationRecord record =
      sluice::rebuild_record("`shop`.`orders`", "orders", options, "");
  CHECK(record.name.rfind("alter-orders-", 0) == 0);
  // alter-orders-YYYYMMDDTHHMMSS.mmmZ: to the millisecond, so that two runs within one second
  // get two names.
  const std::string stamp = record.name.substr(std::string("alter-orders-").size());
  CHECK(stamp.size() == 20);
  CHECK(stamp[8] == 'T');
  CHECK(stamp[15] == '.');
  CHECK(stamp.back() == 'Z');
  CHECK(record.table == "`shop`.`orders`");
  CHECK(record.operation == "rebuild");

  sluice::RebuildOptions resumed;
  sluice::read_rebuild_spec(record, resumed);
  CHECK(resumed.table == "`shop`.`orders`");
  CHECK(resumed.alter == "MODIFY note TEXT");
  CHECK(resumed.discard_duplicates);
  CHECK(resumed.drop_old_table);
  CHECK(sluice::rebuild_record("t", "t", options, "nightly").name == "nightly");

  sluice::MigrationRecord damaged = record;
  damaged.spec = "{\"table\": \"t\"}";
  CHECK_THROWS_AS(sluice::read_rebuild_spec(damaged, resumed), sluice::Error);
}

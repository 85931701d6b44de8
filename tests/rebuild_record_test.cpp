#include <doctest/doctest.h>

#include <string>

#include "src/error.h"
#include "src/run_recorder.h"

TEST_CASE("a rebuild's record holds what a resumed run needs, and nothing else is guessed") {
  sluice::RebuildOptions options;
  options.alter = "MODIFY note TEXT";
  options.discard_duplicates = true;
  options.drop_old_table = true;
  options.old_suffix = "_old3";
  const sluice::MigrationRecord record =
      sluice::rebuild_record("`shop`.`orders`", "orders", options, "_orders_old3", "");
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
  CHECK(resumed.old_suffix == "_old3");
  CHECK(sluice::rebuild_record("t", "t", options, "_t_old3", "nightly").name == "nightly");

  sluice::MigrationRecord damaged = record;
  damaged.spec = "{\"table\": \"t\"}";
  CHECK_THROWS_AS(sluice::read_rebuild_spec(damaged, resumed), sluice::Error);
}

TEST_CASE("a run recorded before old suffixes were resumes with the one name it could use") {
  sluice::MigrationRecord legacy;
  legacy.spec = "{\"table\": \"t\", \"alter\": \"FORCE\"}";
  sluice::RebuildOptions resumed;
  sluice::read_rebuild_spec(legacy, resumed);
  CHECK(resumed.old_suffix.empty());
  resumed.resume = true;
  CHECK(sluice::pick_old_suffix(resumed, "t", [](const std::string&) { return true; }) == "_old");
}

TEST_CASE("a new run keeps its old table under the first free suffix") {
  CHECK(sluice::old_suffix(1) == "_old");
  CHECK(sluice::old_suffix(2) == "_old2");
  sluice::RebuildOptions options;
  const auto taken_below = [](int generations) {
    return [generations](const std::string& suffix) {
      for (int g = 1; g <= generations; ++g) {
        if (suffix == sluice::old_suffix(g)) {
          return true;
        }
      }
      return false;
    };
  };
  CHECK(sluice::pick_old_suffix(options, "t", taken_below(0)) == "_old");
  CHECK(sluice::pick_old_suffix(options, "t", taken_below(2)) == "_old3");
  CHECK_THROWS_AS(sluice::pick_old_suffix(options, "t", taken_below(sluice::kMaxOldTables)),
                  sluice::Error);
  options.old_suffix = "_old7";  // a recorded pick stands, taken or not
  CHECK(sluice::pick_old_suffix(options, "t", taken_below(9)) == "_old7");
}

// The position MariaDB reports with a consistent snapshot: how the applier knows a logged change
// is visible (docs/architecture.md §3).
#include "src/mysql/mysql_sessions.h"

#include <doctest/doctest.h>

using namespace sluice;
using namespace sluice::mysql;

TEST_CASE("the visible binlog position is read inside a consistent snapshot") {
  CHECK(visible_log_position_sql() ==
        std::vector<std::string>{"START TRANSACTION WITH CONSISTENT SNAPSHOT",
                                 "SHOW STATUS LIKE 'Binlog_snapshot_%'"});
  const std::vector<ResultRow> rows = {{"Binlog_snapshot_file", "bin.000003"},
                                       {"Binlog_snapshot_position", "2154"}};
  const std::optional<replication::Position> position = position_from_status(rows);
  REQUIRE(position);
  CHECK(position->file == "bin.000003");
  CHECK(position->offset == 2154);
}

TEST_CASE("a server without the snapshot position (binary log off, not MariaDB) reports none") {
  CHECK_FALSE(position_from_status({}));
  CHECK_FALSE(
      position_from_status({{"Binlog_snapshot_file", ""}, {"Binlog_snapshot_position", "0"}}));
}

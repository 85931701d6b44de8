#include "src/mysql/mysql_copy_sql.h"

#include <doctest/doctest.h>

#include "src/error.h"
#include "src/mysql/mysql_sql.h"
#include "tests/mysql_table_plan_fixture.h"

using namespace sluice;
using namespace sluice::mysql;
using namespace sluice::mysql::testing;

TEST_CASE("a key range's predicate joins its bounds, either left out when open") {
  const TableSchema source = orders_plan().source;
  CHECK(range_predicate(source, std::nullopt, std::nullopt) == "TRUE");
  CHECK(range_predicate(source, replication::Row{number("3")}, std::nullopt) == "((`id` > 3))");
  CHECK(range_predicate(source, std::nullopt, replication::Row{number("9")}) == "((`id` <= 9))");
  CHECK(range_predicate(source, replication::Row{number("3")}, replication::Row{number("9")}) ==
        "((`id` > 3)) AND ((`id` <= 9))");
}

TEST_CASE("a chunk is copied with INSERT IGNORE through the key's index, mapped columns only") {
  const MysqlTablePlan plan = orders_plan();
  CHECK(copy_statement(plan, "TRUE") ==
        "INSERT IGNORE INTO `shop`.`orders_sluice_new` (`id`, `total`, `note`) SELECT `id`, "
        "`total`, `note` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE TRUE");
  CHECK(delete_range_sql(plan, "((`id` <= 9))") ==
        "DELETE FROM `shop`.`orders_sluice_new` WHERE ((`id` <= 9))");
}

TEST_CASE("an added column whose default is the statement's time gets its one value") {
  MysqlTablePlan plan = orders_plan();
  plan.filled = {{"created", "'2026-12-06 03:01:02'"}};
  CHECK(copy_statement(plan, "TRUE", "REPLACE") ==
        "REPLACE INTO `shop`.`orders_sluice_new` (`id`, `total`, `note`, `created`) SELECT `id`, "
        "`total`, `note`, '2026-12-06 03:01:02' FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) "
        "WHERE TRUE");
}

TEST_CASE("chunk ends walk the key's index, binary key columns through HEX()") {
  TableSchema source = orders_plan().source;
  source.columns.push_back(column("uuid", "binary", "binary(16)"));
  source.key_name = "by_tenant";
  source.key_columns = {0, 5};
  CHECK(chunk_end_sql(source, std::nullopt, 1000) ==
        "SELECT `id`, HEX(`uuid`) FROM `shop`.`orders` FORCE INDEX (`by_tenant`) ORDER BY `id`, "
        "`uuid` LIMIT 1 OFFSET 999");
  const replication::Row after{number("4"), {replication::ValueKind::binary, "\x01"}};
  CHECK(last_key_sql(source, after) ==
        "SELECT `id`, HEX(`uuid`) FROM `shop`.`orders` FORCE INDEX (`by_tenant`) WHERE ((`id` > "
        "4) OR (`id` = 4 AND `uuid` > X'01')) ORDER BY `id` DESC, `uuid` DESC LIMIT 1");
  CHECK_FALSE(has_integer_key(source));
}

TEST_CASE("a single integer key is cut into spans of key values") {
  const TableSchema source = orders_plan().source;
  CHECK(has_integer_key(source));
  CHECK(key_bound_sql(source, "MAX") == "SELECT MAX(`id`) FROM `shop`.`orders`");
  CHECK(integer_chunk_end("0", "2500", "1", 1000) == "1000");
  CHECK(integer_chunk_end("2000", "2500", "2001", 1000) == "2500");
  CHECK(integer_chunk_end("2500", "2500", "2500", 1000) == std::nullopt);
  CHECK(integer_before("-9223372036854775808") == "-9223372036854775809");
  // BIGINT UNSIGNED's largest value: the span is computed without overflow.
  CHECK(integer_chunk_end("18446744073709551610", "18446744073709551615", "18446744073709551611",
                          1000) == "18446744073709551615");
  CHECK_THROWS_AS(integer_chunk_end("1e3", "5000", "1001", 10), Error);
}

TEST_CASE("a span that would hold only a gap reaches to the next key (ids near 2^62)") {
  const TableSchema source = orders_plan().source;
  CHECK(next_integer_key_sql(source, "20000") ==
        "SELECT MIN(`id`) FROM `shop`.`orders` WHERE `id` > 20000");
  CHECK(integer_chunk_end("20000", "4611686018427407904", "4611686018427387904", 1000) ==
        "4611686018427387904");
  CHECK(integer_chunk_end("4611686018427387904", "4611686018427407904", "4611686018427388901",
                          1000) == "4611686018427388904");
}

TEST_CASE("a chunk counts the rows it read, rows the applier had written already included") {
  CHECK(records_read("Records: 1000  Duplicates: 12  Warnings: 12") == 1000);
  CHECK(records_read("Records: 0  Duplicates: 0  Warnings: 0") == 0);
  CHECK(records_read("") == std::nullopt);
  CHECK(records_read("Rows matched: 1  Changed: 1  Warnings: 0") == std::nullopt);
}

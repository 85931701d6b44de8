#include "src/mysql/mysql_apply_sql.h"

#include <doctest/doctest.h>

#include "tests/mysql_table_plan_fixture.h"

using namespace sluice;
using namespace sluice::mysql;
using namespace sluice::mysql::testing;
using replication::Row;
using replication::ValueKind;

TEST_CASE("deleted keys go out in statements of at most the batch's size") {
  const MysqlTablePlan plan = orders_plan();
  CHECK(delete_keys_sql(plan, {}).empty());
  CHECK(
      delete_keys_sql(plan, {{number("1")}, {number("2")}, {number("3")}}, 2) ==
      std::vector<std::string>{"DELETE FROM `shop`.`orders_sluice_new` WHERE (`id`) IN ((1), (2))",
                               "DELETE FROM `shop`.`orders_sluice_new` WHERE (`id`) IN ((3))"});
}

TEST_CASE("changed keys are re-read from the source with REPLACE … SELECT, matched by the server") {
  const MysqlTablePlan plan = orders_plan();
  CHECK(resync_rows_sql(plan, {}).empty());
  CHECK(resync_rows_sql(plan, {{number("1")}, {number("2")}, {number("3")}}, 2) ==
        std::vector<std::string>{
            "REPLACE INTO `shop`.`orders_sluice_new` (`id`, `total`, `note`) SELECT `id`, "
            "`total`, `note` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE (`id`) IN ((1), "
            "(2))",
            "REPLACE INTO `shop`.`orders_sluice_new` (`id`, `total`, `note`) SELECT `id`, "
            "`total`, `note` FROM `shop`.`orders` FORCE INDEX (`PRIMARY`) WHERE (`id`) IN ((3))"});
}

TEST_CASE("a character key goes to the server as bytes of its character set, two spellings too") {
  MysqlTablePlan plan = orders_plan();
  plan.source.key_columns = {2};
  plan.source.key_name = "note";
  // 'a' and 'A': equal under a _ci collation; both are sent, the server finds the one row.
  const std::vector<Row> keys = {{{ValueKind::text, "a"}}, {{ValueKind::text, "A"}}};
  CHECK(delete_keys_sql(plan, keys) ==
        std::vector<std::string>{"DELETE FROM `shop`.`orders_sluice_new` WHERE (`note`) IN "
                                 "((_utf8mb4 X'61'), (_utf8mb4 X'41'))"});
  plan.source.columns[2].charset = "latin1";
  CHECK(resync_rows_sql(plan, {{{ValueKind::text, "\xc4"}}})
            .front()
            .ends_with("FORCE INDEX (`note`) WHERE (`note`) IN ((_latin1 X'C4'))"));
}

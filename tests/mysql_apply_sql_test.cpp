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

TEST_CASE("row images are written with REPLACE over the mapped columns") {
  const MysqlTablePlan plan = orders_plan();
  const std::vector<Row> rows = {{number("1"), number("2.5"), {ValueKind::text, "a"}},
                                 {number("2"), {ValueKind::null, ""}, {ValueKind::text, ""}},
                                 {number("3"), number("0"), {ValueKind::null, ""}}};
  CHECK(replace_rows_sql(plan, {}).empty());
  CHECK(replace_rows_sql(plan, rows, 2) ==
        std::vector<std::string>{
            "REPLACE INTO `shop`.`orders_sluice_new` (`id`, `total`, `note`) VALUES (1, 2.5, "
            "_utf8mb4 X'61'), (2, NULL, _utf8mb4 X'')",
            "REPLACE INTO `shop`.`orders_sluice_new` (`id`, `total`, `note`) VALUES (3, 0, NULL)"});
  CHECK(replace_rows_sql(plan, rows).size() == 1);
}

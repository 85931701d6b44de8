#include "src/mysql/mysql_verify_sql.h"

#include <doctest/doctest.h>

#include "tests/mysql_table_plan_fixture.h"

using namespace sluice;
using namespace sluice::mysql;
using namespace sluice::mysql::testing;

TEST_CASE("a column whose type the ALTER changed is cast to its new type on both sides") {
  CHECK(checksum_cast("`c`", column("c", "int", "int(10) unsigned")) == "CAST(`c` AS UNSIGNED)");
  CHECK(checksum_cast("`c`", column("c", "bigint", "bigint(20)")) == "CAST(`c` AS SIGNED)");
  CHECK(checksum_cast("`c`", column("c", "decimal", "decimal(12,3)")) ==
        "CAST(`c` AS DECIMAL(12,3))");
  CHECK(checksum_cast("`c`", column("c", "float", "float")) == "CAST(`c` AS DOUBLE)");
  CHECK(checksum_cast("`c`", column("c", "datetime", "datetime(6)")) == "CAST(`c` AS DATETIME(6))");
  CHECK(checksum_cast("`c`", column("c", "time", "time")) == "CAST(`c` AS TIME)");
  CHECK(checksum_cast("`c`", column("c", "varbinary", "varbinary(8)")) == "CAST(`c` AS BINARY)");
  CHECK(checksum_cast("`c`", column("c", "varchar", "varchar(8)", "latin1")) ==
        "CONVERT(`c` USING latin1)");
  CHECK(checksum_cast("`c`", column("c", "json", "json")) == "`c`");
}

TEST_CASE("the chunk checksum marks NULLs and casts only changed columns") {
  const MysqlTablePlan plan = orders_plan();
  CHECK(checksum_query(plan, plan.shadow, "TRUE") ==
        "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', ISNULL(`id`), `id`, "
        "ISNULL(`total`), CAST(`total` AS DECIMAL(12,3)), ISNULL(`note`), `note`))), 0) FROM "
        "`shop`.`orders_sluice_new` WHERE TRUE");
}

TEST_CASE("rows missing from the shadow are explained only by a duplicate in a new UNIQUE key") {
  MysqlTablePlan plan = orders_plan();
  plan.added_unique_keys = {{"note"}, {"id", "total"}};
  const std::string kept =
      "(`id`) IN (SELECT (`id`) FROM `shop`.`orders_sluice_new` WHERE ((`id` <= 9)))";
  CHECK(kept_rows(plan, "((`id` <= 9))") == kept);
  const std::string missing =
      "SELECT COUNT(*) FROM `shop`.`orders` AS s WHERE ((`id` <= 9)) AND NOT " + kept;
  CHECK(missing_rows_sql(plan, "((`id` <= 9))") == missing);
  CHECK(unexplained_rows_sql(plan, "((`id` <= 9))") ==
        missing +
            " AND NOT (EXISTS (SELECT 1 FROM `shop`.`orders_sluice_new` AS h WHERE h.`note` = "
            "s.`note`) OR EXISTS (SELECT 1 FROM `shop`.`orders_sluice_new` AS h WHERE h.`id` = "
            "s.`id` AND h.`total` = s.`total`))");
}

TEST_CASE("a column NOT NULL in both tables is hashed without a NULL mark") {
  MysqlTablePlan plan = orders_plan();
  plan.source.columns[0].nullable = false;
  plan.shadow_schema.columns[0].nullable = false;
  // NOT NULL in the source only: the shadow may hold a NULL there, so both sides mark it.
  plan.source.columns[2].nullable = false;
  const std::string expected =
      "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', `id`, ISNULL(`total`), CAST(`total` "
      "AS DECIMAL(12,3)), ISNULL(`note`), `note`))), 0) FROM ";
  CHECK(checksum_query(plan, plan.shadow, "TRUE") ==
        expected + "`shop`.`orders_sluice_new` WHERE TRUE");
  CHECK(checksum_query(plan, plan.source.name, "TRUE") == expected + "`shop`.`orders` WHERE TRUE");
}

#include "src/mysql/mysql_shadow_sql.h"

#include <doctest/doctest.h>

#include "tests/mysql_table_plan_fixture.h"

using namespace sluice;
using namespace sluice::mysql;
using namespace sluice::mysql::testing;

TEST_CASE("the shadow and the sentry extend the table's name, so a RENAME locks the table first") {
  const ddl::QualifiedName table{"shop", "orders"};
  CHECK(shadow_name(table) == ddl::QualifiedName{"shop", "orders_sluice_new"});
  CHECK(swap_name(table) == ddl::QualifiedName{"shop", "orders_sluice_old"});
  CHECK(old_name(table, "_old") == ddl::QualifiedName{"shop", "_orders_old"});
  CHECK(old_name(table, "_old2") == ddl::QualifiedName{"shop", "_orders_old2"});
  // The server takes a RENAME's metadata locks in name order.
  CHECK(table.name < shadow_name(table).name);
  CHECK(table.name < swap_name(table).name);
  CHECK(kMaxTableName + kSwapSuffix.size() == 64);
}

TEST_CASE("the copy maps every column that is neither generated nor dropped") {
  const MysqlTablePlan plan = orders_plan();
  CHECK(mapped_columns(plan.source, {"LEGACY"}) == std::vector<std::size_t>{0, 1, 2});
  CHECK(mapped_columns(plan.source, {}) == std::vector<std::size_t>{0, 1, 2, 3});
}

TEST_CASE("the shadow's DDL, the in-place ALTER and the helper tables' statements") {
  const MysqlTablePlan plan = orders_plan();
  const std::vector<std::string> clauses = {"MODIFY total DECIMAL(12,3)", "DROP COLUMN legacy"};
  CHECK(shadow_ddl(plan, clauses) ==
        std::vector<std::string>{
            "CREATE TABLE `shop`.`orders_sluice_new` LIKE `shop`.`orders`",
            "ALTER TABLE `shop`.`orders_sluice_new` MODIFY total DECIMAL(12,3), DROP COLUMN "
            "legacy"});
  CHECK(validation_ddl(plan.source.name, clauses) ==
        std::vector<std::string>{
            "CREATE TEMPORARY TABLE `shop`.`orders_sluice_chk` LIKE `shop`.`orders`",
            "ALTER TABLE `shop`.`orders_sluice_chk` MODIFY total DECIMAL(12,3), DROP COLUMN legacy",
            "DROP TEMPORARY TABLE IF EXISTS `shop`.`orders_sluice_chk`"});
  CHECK(instant_alter_sql(plan.source.name, clauses) ==
        "ALTER TABLE `shop`.`orders` MODIFY total DECIMAL(12,3), DROP COLUMN legacy, "
        "ALGORITHM=INSTANT");
  CHECK(drop_table_sql(plan.shadow, true) == "DROP TABLE IF EXISTS `shop`.`orders_sluice_new`");
  CHECK(drop_table_sql(plan.old) == "DROP TABLE `shop`.`_orders_old`");
  CHECK(rename_table_sql(plan.swap, plan.old) ==
        "RENAME TABLE `shop`.`orders_sluice_old` TO `shop`.`_orders_old`");
  CHECK(table_row_sql("TABLE_COMMENT", "'shop'", "'orders'") ==
        "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND "
        "TABLE_NAME = 'orders'");
}

TEST_CASE("defaults fixed for a statement are told from literals and per-row expressions") {
  CHECK(is_statement_time_default("current_timestamp()"));
  CHECK(is_statement_time_default("current_timestamp(6)"));
  CHECK(is_statement_time_default("CURRENT_TIMESTAMP"));
  CHECK(is_statement_time_default("now()"));
  CHECK(is_statement_time_default("curdate()"));
  CHECK(is_statement_time_default("utc_timestamp()"));
  CHECK_FALSE(is_statement_time_default("'current_timestamp()'"));
  CHECK_FALSE(is_statement_time_default("'2026-01-01 00:00:00'"));
  CHECK_FALSE(is_statement_time_default("sysdate()"));
  CHECK_FALSE(is_statement_time_default("uuid()"));
  CHECK_FALSE(is_statement_time_default("current_timestamp() + interval 1 day"));
  CHECK(column_defaults_sql("'shop'", "'orders_sluice_new'") ==
        "SELECT COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
        "'shop' AND TABLE_NAME = 'orders_sluice_new' AND COLUMN_DEFAULT IS NOT NULL ORDER BY "
        "ORDINAL_POSITION");
  CHECK(evaluate_sql("current_timestamp(6)") == "SELECT CAST(current_timestamp(6) AS CHAR)");
  CHECK(any_value_sql({"shop", "orders_sluice_new"}, "created") ==
        "SELECT CAST(`created` AS CHAR) FROM `shop`.`orders_sluice_new` LIMIT 1");
}

TEST_CASE("plain secondary indexes are read from SHOW CREATE TABLE, to be built after the copy") {
  const std::string created =
      "CREATE TABLE `orders` (\n"
      "  `id` int(11) NOT NULL,\n"
      "  `k` int(11) NOT NULL,\n"
      "  `c` varchar(100) NOT NULL,\n"
      "  `doc` text DEFAULT NULL,\n"
      "  `KEY x` int DEFAULT NULL COMMENT '  KEY `fake` (`k`)',\n"
      "  PRIMARY KEY (`id`),\n"
      "  UNIQUE KEY `uc` (`c`),\n"
      "  KEY `k_1` (`k`),\n"
      "  KEY `odd``name` (`c`(10),`k` DESC) COMMENT 'it''s',\n"
      "  FULLTEXT KEY `ft` (`doc`),\n"
      "  KEY `last` (`k`,`c`)\n"
      ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  const std::vector<std::string> indexes = plain_indexes(created);
  CHECK(indexes == std::vector<std::string>{"KEY `k_1` (`k`)",
                                            "KEY `odd``name` (`c`(10),`k` DESC) COMMENT 'it''s'",
                                            "KEY `last` (`k`,`c`)"});
  const ddl::QualifiedName shadow{"shop", "orders_sluice_new"};
  CHECK(drop_indexes_sql(shadow, indexes, "'m'") ==
        "ALTER TABLE `shop`.`orders_sluice_new` DROP INDEX `k_1`, DROP INDEX `odd``name`, DROP "
        "INDEX `last`, COMMENT = 'm'");
  CHECK(add_indexes_sql(shadow, {indexes[0], indexes[2]}, "'orders'") ==
        "ALTER TABLE `shop`.`orders_sluice_new` ADD KEY `k_1` (`k`), ADD KEY `last` (`k`,`c`), "
        "COMMENT = 'orders', ALGORITHM=INPLACE, LOCK=NONE");
  CHECK(plain_indexes("CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n)").empty());
}

TEST_CASE("the indexes a shadow holds back survive in its comment, with the comment to restore") {
  const HeldBackIndexes held{{"KEY `k_1` (`k`)", "KEY `c` (`c`) COMMENT 'say \\\"hi\\\"'"},
                             "the orders, \"all\" of them"};
  const std::string comment = held_back_comment(held);
  CHECK(comment.starts_with("sluice: indexes held back during the copy {"));
  const std::optional<HeldBackIndexes> parsed = parse_held_back_comment(comment);
  REQUIRE(parsed);
  CHECK(parsed->indexes == held.indexes);
  CHECK(parsed->comment == held.comment);
  CHECK_FALSE(parse_held_back_comment("the orders"));
  CHECK_FALSE(
      parse_held_back_comment("sluice: indexes held back during the copy {\"indexes\": 1}"));
  CHECK_FALSE(parse_held_back_comment("sluice: indexes held back during the copy {broken"));
}

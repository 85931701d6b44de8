// The pure SQL behind expand-contract's done-checks and its yielding backfill
// (src/mysql/mysql_column_sql.h, src/postgres/pg_column_sql.h, backfill_rows in
// src/phase_plan.h).
#include <doctest/doctest.h>

#include "src/column_backend.h"
#include "src/mysql/mysql_column_sql.h"
#include "src/phase_plan.h"
#include "src/postgres/pg_column_sql.h"
#include "src/server_family.h"
#include "tests/mysql_table_plan_fixture.h"

using sluice::ddl::Dialect;

TEST_CASE("add-index steps carry their columns and uniqueness for the done-check") {
  for (Dialect dialect : {Dialect::mysql, Dialect::postgres}) {
    const sluice::Step step = sluice::server_family(dialect)
                                  .column_ddl()
                                  .create_index({"s", "t"}, "by_ab", {"a", "b"}, true)
                                  .at(0);
    CHECK(step.kind == sluice::StepKind::create_index);
    CHECK(step.object == "by_ab");
    CHECK(step.columns == std::vector<std::string>{"a", "b"});
    CHECK(step.unique);
  }
}

TEST_CASE("a backfill writes only NULLs the expression fills; a repair only differing rows") {
  const sluice::ColumnDdl& ddl = sluice::server_family(Dialect::postgres).column_ddl();
  const sluice::BackfillPlan plan{"mail", "lower(email)"};
  CHECK(sluice::backfill_rows(plan, "", ddl, false) ==
        "\"mail\" IS NULL AND NOT (lower(email)) IS NULL");
  CHECK(sluice::backfill_rows(plan, "\"mail\" IS DISTINCT FROM (lower(email))", ddl, true) ==
        "(\"mail\" IS DISTINCT FROM (lower(email))) AND NOT (\"mail\" IS NULL AND (lower(email)) "
        "IS NULL)");
}

TEST_CASE("PostgreSQL: a backfill batch locks its rows in key order and skips held ones") {
  const std::string sql = sluice::postgres::skip_locked_backfill_sql(
      "\"public\".\"t\"", "\"mail\"", "email", "\"mail\" IS NULL", {"\"id\""},
      "\"id\" > $1 AND \"id\" <= $2");
  CHECK(sql ==
        "WITH todo AS (SELECT count(*) AS n FROM \"public\".\"t\" WHERE \"id\" > $1 AND \"id\" <= "
        "$2 AND (\"mail\" IS NULL)), locked (sluice_key_1) AS (SELECT \"id\" FROM "
        "\"public\".\"t\" WHERE \"id\" > $1 AND \"id\" <= $2 AND (\"mail\" IS NULL) ORDER BY "
        "\"id\" FOR UPDATE SKIP LOCKED), written AS (UPDATE \"public\".\"t\" SET \"mail\" = "
        "(email) FROM locked WHERE \"id\" > $1 AND \"id\" <= $2 AND \"public\".\"t\".\"id\" = "
        "locked.sluice_key_1 RETURNING 1) SELECT (SELECT count(*) FROM written), "
        "greatest((SELECT n FROM todo) - (SELECT count(*) FROM locked), 0)");
}

TEST_CASE("MySQL: a backfill batch locks its keys with SKIP LOCKED, then writes them by key") {
  using namespace sluice::mysql;
  using namespace sluice::mysql::testing;
  const sluice::TableSchema source = orders_plan().source;
  CHECK(locked_keys_sql(source, "`shop`.`orders`", "`note` IS NULL") ==
        "SELECT `id` FROM `shop`.`orders` WHERE `note` IS NULL ORDER BY `id` FOR UPDATE SKIP "
        "LOCKED");
  CHECK(fill_keys_sql(
            source, "`shop`.`orders`", "`note`", "'x'",
            {sluice::replication::Row{number("3")}, sluice::replication::Row{number("9")}}) ==
        "UPDATE `shop`.`orders` SET `note` = ('x') WHERE `id` IN (3, 9)");
  CHECK(index_columns_sql("'shop'", "'orders'", "'by_note'") ==
        "SELECT COLUMN_NAME, NON_UNIQUE, SUB_PART FROM information_schema.STATISTICS WHERE "
        "TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders' AND INDEX_NAME = 'by_note' ORDER BY "
        "SEQ_IN_INDEX");
}

TEST_CASE("the old-clients query leaves out sluice's own sessions and keeps the user's condition") {
  const std::string mysql = sluice::mysql::sessions_sql({"12", "40"}, "USER = 'app'");
  CHECK(mysql.find("ID NOT IN (CONNECTION_ID(), 12, 40)") != std::string::npos);
  CHECK(mysql.find("COMMAND <> 'Daemon' AND (USER = 'app')") != std::string::npos);
  const std::string pg = sluice::postgres::sessions_sql({"812"}, "usename = 'app'");
  CHECK(pg.find("pid NOT IN (pg_backend_pid(), 812)") != std::string::npos);
  CHECK(pg.find("backend_type = 'client backend' AND (usename = 'app')") != std::string::npos);
  // An id comes from sluice's own sessions; anything but a number is refused, never spliced in.
  CHECK_THROWS_AS(sluice::mysql::sessions_sql({"1) OR (1"}, "TRUE"), std::invalid_argument);
  CHECK_THROWS_AS(sluice::postgres::sessions_sql({"x"}, "TRUE"), std::invalid_argument);
}

TEST_CASE("an index step's column list is quoted for its dialect") {
  CHECK(sluice::server_family(Dialect::mysql)
            .column_ddl()
            .create_index({"s", "t"}, "i", {"a`b", "c"}, false)
            .at(0)
            .sql.find("(`a``b`, `c`)") != std::string::npos);
  CHECK(sluice::server_family(Dialect::postgres)
            .column_ddl()
            .create_index({"s", "t"}, "i", {"a\"b", "c"}, false)
            .at(0)
            .sql.find("(\"a\"\"b\", \"c\")") != std::string::npos);
}

TEST_CASE("a count with samples asks for keys only when rows match") {
  std::vector<std::string> asked;
  const auto select = [&](const std::string& sql) {
    asked.push_back(sql);
    return asked.size() == 1 ? std::vector<sluice::ResultRow>{{std::string("2")}}
                             : std::vector<sluice::ResultRow>{{std::string("4"), std::string("x")},
                                                              {std::string("9"), std::nullopt}};
  };
  std::vector<sluice::KeyText> keys;
  CHECK(sluice::count_with_samples(select, " FROM t WHERE c", "a, b", "a, b", 2, keys) == 2);
  CHECK(asked == std::vector<std::string>{"SELECT COUNT(*) FROM t WHERE c",
                                          "SELECT a, b FROM t WHERE c ORDER BY a, b LIMIT 2"});
  CHECK(keys == std::vector<sluice::KeyText>{{"4", "x"}, {"9", ""}});
  asked.clear();
  keys.clear();
  const auto none = [&](const std::string& sql) {
    asked.push_back(sql);
    return std::vector<sluice::ResultRow>{{std::string("0")}};
  };
  CHECK(sluice::count_with_samples(none, " FROM t", "a", "a", 5, keys) == 0);
  CHECK(asked.size() == 1);
  CHECK(keys.empty());
}

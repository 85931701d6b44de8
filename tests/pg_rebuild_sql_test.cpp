// SQL text of the PostgreSQL rebuild: key predicates and USING expressions.
#include "src/postgres/pg_rebuild_sql.h"

#include <doctest/doctest.h>

using namespace sluice::postgres;

TEST_CASE("USING expressions are found per column, outside parentheses") {
  const auto found = using_expressions({"ALTER COLUMN doc TYPE jsonb USING doc::jsonb",
                                        "ALTER \"Mixed\" SET DATA TYPE numeric(10, 2) USING "
                                        "round(\"Mixed\" / 100.0, 2)",
                                        "ALTER COLUMN k TYPE bigint", "ADD COLUMN x int"});
  CHECK(found.size() == 2);
  CHECK(found.at("doc") == "doc::jsonb");
  CHECK(found.at("Mixed") == "round(\"Mixed\" / 100.0, 2)");
}

TEST_CASE("a composite key compares as a row, a single column plainly") {
  CHECK(key_compare({"\"a\"", "\"b\""}, ">", 1) == "(\"a\", \"b\") > ($1, $2)");
  CHECK(key_compare({"\"id\""}, "<=", 3) == "\"id\" <= $3");
}

TEST_CASE("key lists number their parameters in order") {
  CHECK(key_in({"\"id\""}, 3, 1) == "\"id\" IN ($1, $2, $3)");
  CHECK(key_in({"\"a\"", "\"b\""}, 2, 4) == "(\"a\", \"b\") IN (($4, $5), ($6, $7))");
}

TEST_CASE("literals double quotes, and backslashes under E''") {
  CHECK(quote_literal("it's") == "'it''s'");
  CHECK(quote_literal("a\\b'") == "E'a\\\\b'''");
}

TEST_CASE("array literals quote every element and escape quotes and backslashes") {
  CHECK(array_literal({}) == "{}");
  CHECK(array_literal({"a", std::nullopt, "NULL", "say \"hi\"", "back\\slash", "{,}"}) ==
        "{\"a\",NULL,\"NULL\",\"say \\\"hi\\\"\",\"back\\\\slash\",\"{,}\"}");
}

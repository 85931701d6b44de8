// SQL text shared by the roles of the PostgreSQL rebuild: names, literals, bind values, key
// predicates, column lists, lock statements and USING expressions.
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

TEST_CASE("identifiers are quoted, qualified names per part") {
  CHECK(ident("Order") == "\"Order\"");
  CHECK(ident("a\"b") == "\"a\"\"b\"");
  CHECK(ident(sluice::ddl::QualifiedName{"app", "t"}) == "\"app\".\"t\"");
}

TEST_CASE("derived names keep the suffix within PostgreSQL's 63 bytes") {
  CHECK(derived_name("orders", "_new") == "_orders_new");
  const std::string long_name(70, 'x');
  const std::string derived = derived_name(long_name, "_old");
  CHECK(derived.size() == 63);
  CHECK(derived.substr(0, 2) == "_x");
  CHECK(derived.substr(59) == "_old");
  CHECK(slot_name("16384") == "alter_16384");
}

TEST_CASE("stream values bind as text, bytes as hex, NULL as no value") {
  using sluice::replication::Value;
  using sluice::replication::ValueKind;
  CHECK(bind_text(Value{ValueKind::null, ""}) == std::nullopt);
  CHECK(bind_text(Value{ValueKind::number, "-12"}) == "-12");
  CHECK(bind_text(Value{ValueKind::binary, std::string("\x0a\xff", 2)}) == "\\x0aff");
  CHECK(bind_text(Value{ValueKind::binary, ""}) == "\\x");
}

TEST_CASE("key ranges bind the lower bound first and say true when unbounded") {
  using sluice::replication::Row;
  using sluice::replication::Value;
  using sluice::replication::ValueKind;
  const Row low{Value{ValueKind::number, "1"}, Value{ValueKind::number, "2"}};
  const Row high{Value{ValueKind::number, "3"}, Value{ValueKind::number, "4"}};
  const std::vector<std::string> key{"\"a\"", "\"b\""};
  const KeyPredicate both = key_range(key, low, high);
  CHECK(both.sql == "(\"a\", \"b\") > ($1, $2) AND (\"a\", \"b\") <= ($3, $4)");
  CHECK(both.params == SqlParams{"1", "2", "3", "4"});
  const KeyPredicate up_to =
      key_range({"\"id\""}, std::nullopt, Row{Value{ValueKind::number, "9"}});
  CHECK(up_to.sql == "\"id\" <= $1");
  CHECK(up_to.params == SqlParams{"9"});
  CHECK(key_range(key, low, std::nullopt).sql == "(\"a\", \"b\") > ($1, $2)");
  const KeyPredicate all = key_range(key, std::nullopt, std::nullopt);
  CHECK(all.sql == "true");
  CHECK(all.params.empty());
}

TEST_CASE("column lists name the columns and the values the copy computes") {
  const std::vector<PgColumn> columns{{"\"id\"", "integer", "bigint", "CAST(\"id\" AS bigint)"},
                                      {"\"note\"", "text", "text", "\"note\""}};
  CHECK(column_names(columns) == "\"id\", \"note\"");
  CHECK(column_values(columns) == "CAST(\"id\" AS bigint), \"note\"");
  CHECK(key_list({"\"a\"", "\"b\""}) == "\"a\", \"b\"");
  CHECK(key_list({"\"a\"", "\"b\""}, " DESC") == "\"a\" DESC, \"b\" DESC");
}

TEST_CASE("lock statements bound the wait, never to zero (no limit)") {
  CHECK(set_local_lock_timeout(std::chrono::milliseconds(2000)) ==
        "SET LOCAL lock_timeout = '2000ms'");
  CHECK(set_local_lock_timeout(std::chrono::milliseconds(0)) == "SET LOCAL lock_timeout = '1ms'");
  const std::vector<std::string> statements =
      lock_tables_sql({{{"public", "t"}, sluice::LockMode::block_writes},
                       {{"public", "u"}, sluice::LockMode::exclusive}},
                      std::chrono::milliseconds(300));
  CHECK(statements ==
        std::vector<std::string>{"BEGIN", "SET LOCAL lock_timeout = '300ms'",
                                 "LOCK TABLE \"public\".\"t\" IN SHARE MODE",
                                 "LOCK TABLE \"public\".\"u\" IN ACCESS EXCLUSIVE MODE"});
}

TEST_CASE("verification's write block keeps autovacuum off the table before it blocks writes") {
  CHECK(lock_past_vacuum("\"public\".\"t\"", {"public", "t"}, sluice::LockMode::block_writes,
                         std::chrono::milliseconds(300)) ==
        std::vector<std::string>{"BEGIN", "SET LOCAL lock_timeout = '5000ms'",
                                 "LOCK TABLE \"public\".\"t\" IN SHARE UPDATE EXCLUSIVE MODE",
                                 "SET LOCAL lock_timeout = '300ms'",
                                 "LOCK TABLE \"public\".\"t\" IN SHARE MODE"});
}

// SQL text of the PostgreSQL applier: batches bound as arrays, single rows with values read
// from the shadow, deletes by key and by unique value.
#include "src/postgres/pg_apply_sql.h"

#include <doctest/doctest.h>

using namespace sluice::postgres;

namespace {

PgTablePlan plan_with_key(std::vector<std::string> key) {
  PgTablePlan plan;
  plan.quoted_table = "\"public\".\"t\"";
  plan.quoted_shadow = "\"public\".\"_t_new\"";
  plan.columns = {{"\"a\"", "integer", "bigint", "CAST(\"a\" AS bigint)", true},
                  {"\"b\"", "integer", "integer", "\"b\"", true},
                  {"\"c\"", "text", "jsonb", "CAST((c::jsonb) AS jsonb)", true}};
  plan.key = std::move(key);
  plan.key_in_mapped =
      plan.key.size() == 1 ? std::vector<std::size_t>{0} : std::vector<std::size_t>{0, 1};
  return plan;
}

}  // namespace

TEST_CASE("a batch binds one text array per column and converts as the copy does") {
  const PgTablePlan plan = plan_with_key({"\"a\""});
  CHECK(batch_rows(plan.columns) ==
        "SELECT CAST(\"a\" AS bigint), \"b\", CAST((c::jsonb) AS jsonb) FROM (SELECT CAST(u.c0 AS "
        "integer) AS \"a\", CAST(u.c1 AS integer) AS \"b\", CAST(u.c2 AS text) AS \"c\" FROM "
        "unnest($1::text[], $2::text[], $3::text[]) AS u (c0, c1, c2)) AS s");
}

TEST_CASE("a single row passes values read from the shadow unconverted, in the shadow's type") {
  const PgTablePlan plan = plan_with_key({"\"a\""});
  CHECK(single_row(plan.columns, {false, false, true}) ==
        "SELECT CAST(\"a\" AS bigint), \"b\", \"c\" FROM (VALUES ($1::integer, $2::integer, "
        "$3::jsonb)) AS s (\"a\", \"b\", \"c\")");
}

TEST_CASE("rows are inserted keeping identity values, after deleting unique-value holders") {
  const PgTablePlan plan = plan_with_key({"\"a\""});
  CHECK(insert_rows_into(plan, "SELECT 1") ==
        "INSERT INTO \"public\".\"_t_new\" (\"a\", \"b\", \"c\") OVERRIDING SYSTEM VALUE SELECT 1");
  CHECK(delete_unique_matches(plan, "SELECT 1, 2, 3", {"\"b\"", "\"c\""}) ==
        "DELETE FROM \"public\".\"_t_new\" AS t USING (SELECT 1, 2, 3) AS n (\"a\", \"b\", \"c\") "
        "WHERE t.\"b\" = n.\"b\" AND t.\"c\" = n.\"c\"");
}

TEST_CASE("the applier writes the one value of an added column with a stable default") {
  PgTablePlan plan = plan_with_key({"\"a\""});
  plan.filled = {{"\"n\"", "'5'::integer"}, {"\"m\"", "NULL::text"}};
  CHECK(insert_rows_into(plan, "SELECT 1, 2, 3") ==
        "INSERT INTO \"public\".\"_t_new\" (\"a\", \"b\", \"c\", \"n\", \"m\") OVERRIDING "
        "SYSTEM VALUE SELECT r.*, '5'::integer, NULL::text FROM (SELECT 1, 2, 3) AS r");
}

TEST_CASE("unchanged values are looked up by the server's key equality, led by the key's place") {
  const PgTablePlan composite = plan_with_key({"\"a\"", "\"b\""});
  CHECK(select_by_keys(composite, false) ==
        "SELECT k.ord, t.\"a\", t.\"b\", t.\"c\" FROM \"public\".\"t\" AS t JOIN "
        "unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (k0, k1, ord) ON (t.\"a\", t.\"b\") "
        "= (CAST(k.k0 AS integer), CAST(k.k1 AS integer))");
  // In the shadow, each key value is cast to the shadow's type.
  CHECK(select_by_keys(plan_with_key({"\"a\""}), true) ==
        "SELECT k.ord, t.\"a\", t.\"b\", t.\"c\" FROM \"public\".\"_t_new\" AS t JOIN "
        "unnest($1::text[]) WITH ORDINALITY AS k (k0, ord) ON t.\"a\" = CAST(k.k0 AS bigint)");
}

TEST_CASE("keys are deleted as one typed array for a single column, else as a list") {
  CHECK(delete_keys(plan_with_key({"\"a\""}), 500) ==
        "DELETE FROM \"public\".\"_t_new\" WHERE \"a\" = ANY(CAST($1::text[] AS bigint[]))");
  CHECK(delete_keys(plan_with_key({"\"a\"", "\"b\""}), 2) ==
        "DELETE FROM \"public\".\"_t_new\" WHERE (\"a\", \"b\") IN (($1, $2), ($3, $4))");
}

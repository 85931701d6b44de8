// Which PostgreSQL keys a rebuild matches rows by: exact text is the server's equality for the
// types listed, in a deterministic collation.
#include "src/postgres/pg_key.h"

#include <doctest/doctest.h>

using namespace sluice::postgres;

namespace {

KeyColumnFacts column(std::string type, std::string base_type) {
  return KeyColumnFacts{"id", std::move(type), std::move(base_type), false, std::nullopt};
}

}  // namespace

TEST_CASE("keys whose equal values always print alike are accepted, whatever their order") {
  for (const char* base : {"int2", "int4", "int8", "numeric", "text", "varchar", "bpchar", "uuid",
                           "bytea", "date", "time", "timestamp", "timestamptz", "bool"}) {
    CHECK_MESSAGE(!key_refusal(column(base, base)), base);
  }
  KeyColumnFacts status = column("mood", "mood");
  status.is_enum = true;
  CHECK_FALSE(key_refusal(status));
  // A domain is judged by its base type.
  CHECK_FALSE(key_refusal(column("email_address", "text")));
}

TEST_CASE(
    "a nondeterministic collation or a type with several spellings is refused in a sentence") {
  KeyColumnFacts name = column("text", "text");
  name.name = "Name";
  name.nondeterministic_collation = "case_insensitive";
  const std::optional<std::string> collation = key_refusal(name);
  REQUIRE(collation);
  CHECK(*collation ==
        "the key column \"Name\" uses the nondeterministic collation \"case_insensitive\", under "
        "which different texts can be equal, and sluice matches changed rows by their exact "
        "text, so it cannot rebuild this table (changes the server makes in its catalog alone "
        "still apply)");
  for (const char* base : {"float8", "interval", "citext", "jsonb"}) {
    const std::optional<std::string> type = key_refusal(column(base, base));
    REQUIRE_MESSAGE(type, base);
    CHECK(type->find(std::string("is of type ") + base +
                     ", whose equal values can be written "
                     "differently") != std::string::npos);
  }
}

TEST_CASE("the key's facts come from its replica identity index, else its primary key") {
  const std::string sql = key_facts_sql();
  CHECK(sql.find("CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END") !=
        std::string::npos);
  CHECK(sql.find("CASE WHEN co.collisdeterministic THEN NULL ELSE co.collname END") !=
        std::string::npos);
  CHECK(sql.find("t.typtype = 'd' THEN t.typbasetype") != std::string::npos);
  CHECK(sql.find("ORDER BY k.ord") != std::string::npos);
}

#include "src/postgres/pg_key.h"

#include <algorithm>
#include <iterator>

#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

// Types whose equal values print alike with the walsender's settings (ISO dates, UTC, hex
// bytea): their text identifies the value. Numbers also compare as numbers (1.0 = 1.00).
// float (-0 = 0) and interval ('1 day' = '24 hours') do not qualify, nor extension types.
constexpr const char* kExactTypes[] = {"int2",    "int4",      "int8",        "numeric", "text",
                                       "varchar", "bpchar",    "uuid",        "bytea",   "date",
                                       "time",    "timestamp", "timestamptz", "bool"};

}  // namespace

std::string key_facts_sql() {
  return "SELECT a.attname, format_type(a.atttypid, a.atttypmod), b.typname, b.typtype = 'e', "
         "CASE WHEN co.collisdeterministic THEN NULL ELSE co.collname END FROM pg_class c JOIN "
         "pg_index i ON i.indrelid = c.oid AND CASE WHEN c.relreplident = 'i' THEN "
         "i.indisreplident ELSE i.indisprimary END CROSS JOIN LATERAL unnest(i.indkey::int2[]) "
         "WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum "
         "= k.attnum JOIN pg_type t ON t.oid = a.atttypid JOIN pg_type b ON b.oid = CASE WHEN "
         "t.typtype = 'd' THEN t.typbasetype ELSE t.oid END LEFT JOIN pg_collation co ON co.oid "
         "= a.attcollation WHERE c.oid = $1::oid ORDER BY k.ord";
}

std::vector<KeyColumnFacts> read_key_facts(Connection& session, const std::string& table_oid) {
  std::vector<KeyColumnFacts> columns;
  for (const ResultRow& row : session.query(key_facts_sql(), {table_oid})) {
    columns.push_back(KeyColumnFacts{row[0].value_or(""), row[1].value_or(""), row[2].value_or(""),
                                     row[3].value_or("f") == "t", row[4]});
  }
  return columns;
}

std::optional<std::string> key_refusal(const KeyColumnFacts& column) {
  if (column.nondeterministic_collation) {
    return "the key column " + ident(column.name) + " uses the nondeterministic collation " +
           ident(*column.nondeterministic_collation) +
           ", under which different texts can be equal, and sluice matches changed rows by "
           "their exact text, so it cannot rebuild this table (changes the server makes in its "
           "catalog alone still apply)";
  }
  if (column.is_enum || std::find(std::begin(kExactTypes), std::end(kExactTypes),
                                  column.base_type) != std::end(kExactTypes)) {
    return std::nullopt;
  }
  return "the key column " + ident(column.name) + " is of type " + column.type +
         ", whose equal values can be written differently, and sluice matches changed rows by "
         "their exact text, so it rebuilds tables keyed by integer, numeric, text, varchar, "
         "char, uuid, bytea, date, time, timestamp, timestamptz, boolean or enum columns only "
         "(changes the server makes in its catalog alone still apply)";
}

}  // namespace sluice::postgres

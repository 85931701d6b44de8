// `sluice alter` on real PostgreSQL 15 tables keyed by every type a replica identity can have,
// each under the twin-table writer (keys changed, rows deleted and inserted again with the same
// key) and compared row for row at the end; which keys a rebuild refuses, and that `sluice
// check` says the same; a change the server makes in its catalog never depends on the key.
#include <doctest/doctest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "integration/check_report.h"
#include "integration/faults.h"
#include "integration/pg_table_writer.h"
#include "integration/row_diff.h"
#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::postgres);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Migrates `table` (created with `key`, `rows` rows) while the writer runs, then compares it
// with its twin; returns sluice's stderr.
std::string migrate_under_load(const std::string& table, const PgKeySpec& key, int rows,
                               bool sparse = false) {
  auto db = postgres_admin();
  const std::string twin = table + "_twin";
  create_pg_table(*db, table, twin, rows, key, sparse);
  PgTableWriter writer(sluice::parse_dsn(dsn()), table, twin, key);
  writer.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", table, "--alter",
                              "ALTER COLUMN k TYPE bigint, ALTER COLUMN name TYPE text",
                              "--execute", "--chunk-time", "20"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.stop();
  INFO("sluice stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(writer.transactions() > 0);
  MESSAGE(table << ": the writer committed " << writer.transactions() << " transactions");
  CHECK(db->query_value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                        "attrelid = $1::regclass AND attname = 'k'",
                        {"\"" + table + "\""}) == "bigint");
  const Rows migrated = pg_table_rows(*db, table, twin, table);
  const Rows expected = pg_table_rows(*db, twin, table, table);
  CHECK(migrated.size() == expected.size());
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  // The indexes and constraints the copy went without are all back, the identity among them.
  CHECK(pg_table_shape(*db, table) == pg_table_shape(*db, twin));
  return run.err;
}

PgKeySpec key_of(std::string type, std::string value) {
  PgKeySpec key;
  key.type = std::move(type);
  key.value = std::move(value);
  return key;
}

// Text whose order differs between the bytes ("C") and a linguistic collation: upper and
// lower case, a letter with a diaeresis, punctuation.
const std::string kMixedText =
    "(ARRAY['a', 'B', '\xc3\xa4', 'Z', '_', 'b'])[1 + {} % 6] || '-' || {}::text";

}  // namespace

TEST_CASE("tables keyed by each type migrate under writes and compare equal") {
  SUBCASE("uuid") {
    migrate_under_load("key_uuid", key_of("uuid", "md5('k' || {})::uuid"), 20000);
  }
  SUBCASE("text in the database's collation") {
    migrate_under_load("key_text", key_of("text", kMixedText), 20000);
  }
  SUBCASE("varchar in a linguistic (ICU) collation, which orders it unlike C") {
    auto db = postgres_admin();
    // The order the two collations give differs: keys sorted by the client's bytes would not
    // match the server's order.
    CHECK(db->query_value("SELECT (ARRAY(SELECT x FROM unnest(ARRAY['a', 'B', '_']) x ORDER BY x "
                          "COLLATE \"C\"))::text <> (ARRAY(SELECT x FROM unnest(ARRAY['a', 'B', "
                          "'_']) x ORDER BY x COLLATE \"en-x-icu\"))::text") == "t");
    migrate_under_load("key_icu", key_of("varchar(40) COLLATE \"en-x-icu\"", kMixedText), 20000);
  }
  SUBCASE("timestamptz") {
    migrate_under_load("key_tstz",
                       key_of("timestamptz",
                              "timestamptz '2001-02-03 04:05:06.789+02' + {} * "
                              "interval '1.000001 second'"),
                       20000);
  }
  SUBCASE("date") {
    migrate_under_load("key_date", key_of("date", "date '1990-01-01' + {}::int"), 20000);
  }
  SUBCASE("bytea") {
    migrate_under_load("key_bytea", key_of("bytea", "decode(md5({}::text), 'hex')"), 20000);
  }
  SUBCASE("a composite of text and integer") {
    PgKeySpec key = key_of("integer", "{} + 0");
    key.a_type = "text";
    key.a_value = "'t' || ({} % 7)";
    migrate_under_load("key_comp", key, 20000);
  }
  SUBCASE("a unique index as replica identity, not a primary key") {
    PgKeySpec key = key_of("uuid", "md5('u' || {})::uuid");
    key.unique_index = true;
    migrate_under_load("key_uidx", key, 20000);
  }
  SUBCASE("an empty table") {
    migrate_under_load("key_empty", key_of("uuid", "md5('e' || {})::uuid"), 0);
  }
}

TEST_CASE("a sparse integer key (ids near 2^62 among dense small ones) is chunked by rows") {
  const std::string err = migrate_under_load("key_sparse", key_of("bigint", "{}"), 20000, true);
  // Chunks follow the number of rows, never the distance between key values.
  std::smatch verified;
  REQUIRE(
      std::regex_search(err, verified, std::regex("verified ([0-9]+) rows in ([0-9]+) chunks")));
  CHECK(std::stoull(verified[2]) <= 2);
  CHECK(contains(err, "rows under the change stream's snapshot"));
}

TEST_CASE(
    "a nondeterministic collation on the key: check warns, a rebuild is refused, a catalog "
    "change applies") {
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS key_ci; DROP COLLATION IF EXISTS sluice_ci; CREATE COLLATION "
      "sluice_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false); CREATE "
      "TABLE key_ci (name text COLLATE sluice_ci PRIMARY KEY, v int); INSERT INTO key_ci SELECT "
      "'n' || g, g FROM generate_series(1, 100) g");
  const CheckReport report = run_check(dsn(), "key_ci");
  INFO(report.json.dump(2));
  CHECK(report.status("key") == "warn");
  CHECK(contains(report.message("key"), "nondeterministic collation \"sluice_ci\""));

  RunResult rebuild = run_sluice({"alter", "--dsn", dsn(), "--table", "key_ci", "--alter",
                                  "ALTER COLUMN v TYPE bigint", "--execute"});
  INFO(rebuild.err);
  CHECK(rebuild.exit_code == 5);
  CHECK(contains(rebuild.err,
                 "the key column \"name\" uses the nondeterministic collation "
                 "\"sluice_ci\""));
  CHECK(db->query_value("SELECT to_regclass('_key_ci_new')::text") == std::nullopt);

  forget_run(ServerKind::postgres, dsn(), "key-ci-add");
  forget_run(ServerKind::postgres, dsn(), "key-ci-drop");
  RunResult added = run_sluice({"alter", "--dsn", dsn(), "--table", "key_ci", "--alter",
                                "ADD COLUMN note text", "--execute", "--name", "key-ci-add"});
  INFO(added.err);
  CHECK(added.exit_code == 0);
  RunResult dropped = run_sluice({"alter", "--dsn", dsn(), "--table", "key_ci", "--alter",
                                  "DROP COLUMN note", "--execute", "--name", "key-ci-drop"});
  INFO(dropped.err);
  CHECK(dropped.exit_code == 0);
  CHECK(db->query_value("SELECT count(*) FROM key_ci") == "100");
}

TEST_CASE("check and alter agree: a uuid key passes, an interval key is refused for rebuilds") {
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS key_chk_uuid, key_chk_interval; CREATE TABLE key_chk_uuid (id uuid "
      "PRIMARY KEY, v int); CREATE TABLE key_chk_interval (id interval PRIMARY KEY, v int)");
  const CheckReport uuid = run_check(dsn(), "key_chk_uuid");
  CHECK(uuid.status("key") == "pass");
  CHECK(uuid.status("copy_cost") == "pass");
  CHECK(contains(uuid.message("copy_cost"), "holds back vacuum"));
  CHECK(contains(uuid.message("copy_cost"), "256 MB of memory"));
  CHECK(contains(uuid.message("copy_cost"), "lets go of it for any session that waits for it"));
  const CheckReport interval = run_check(dsn(), "key_chk_interval");
  CHECK(interval.status("key") == "warn");
  RunResult refused = run_sluice({"alter", "--dsn", dsn(), "--table", "key_chk_interval", "--alter",
                                  "ALTER COLUMN v TYPE bigint", "--execute"});
  CHECK(refused.exit_code == 5);
  CHECK(contains(refused.err, "is of type interval"));
}

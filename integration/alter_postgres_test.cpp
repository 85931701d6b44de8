// `sluice alter` against a real PostgreSQL 15 while an application writes: every run ends with a
// full row-for-row comparison of the migrated table with a twin table that received the same
// writes.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/pg_table_writer.h"
#include "integration/row_diff.h"
#include "integration/support.h"
#include "src/phase_store.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::postgres);
}

// The slots and publications sluice left for `table`: named after the oid of the table, of its
// shadow or of its old table, or after an oid no table has any more. Other test programs run
// migrations on the same server meanwhile; their objects are not this test's.
std::string sluice_objects(sluice::postgres::Connection& db, const std::string& table) {
  return db
      .query_value(
          "SELECT string_agg(n, ', ') FROM (SELECT slot_name::text AS n FROM "
          "pg_replication_slots UNION ALL SELECT pubname::text FROM pg_publication) o, "
          "LATERAL (SELECT substring(n from '^sluice_alter_([0-9]+)$') AS oid) k WHERE n LIKE "
          "'sluice\\_alter%' AND (k.oid IS NULL OR NOT EXISTS (SELECT 1 FROM pg_class c WHERE "
          "c.oid::text = k.oid) OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid::text = k.oid "
          "AND c.relname::text IN ($1::text, '_' || $1::text || '_new', '_' || $1::text || "
          "'_old')))",
          {table})
      .value_or("");
}

// Migrates `table` with `alter` while a writer runs, then compares it with its twin.
RunResult migrate_under_load(const std::string& table, const std::string& alter, int rows,
                             bool composite, const std::vector<std::string>& extra = {},
                             const std::string& run_dsn = dsn()) {
  auto db = postgres_admin();
  const std::string twin = table + "_twin";
  create_pg_table(*db, table, twin, rows, composite);
  PgTableWriter writer(sluice::parse_dsn(dsn()), table, twin);
  writer.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<std::string> args = {"alter",   "--dsn", run_dsn,     "--table",      table,
                                   "--alter", alter,   "--execute", "--chunk-time", "20"};
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult run = run_sluice(args);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.stop();
  INFO("sluice stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(writer.transactions() > 0);
  MESSAGE(table << ": the writer committed " << writer.transactions() << " transactions and "
                << "rolled back " << writer.rollbacks());
  CHECK(pg_table_exists(*db, "_" + table + "_old"));
  CHECK_FALSE(pg_table_exists(*db, "_" + table + "_new"));
  CHECK(sluice_objects(*db, table).empty());
  const Rows migrated = pg_table_rows(*db, table, twin, table);
  const Rows expected = pg_table_rows(*db, twin, table, table);
  CHECK(migrated.size() == expected.size());
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  // The generated column is recomputed by the new table.
  CHECK(db->query_value("SELECT count(*) FROM \"" + table +
                        "\" WHERE doubled IS DISTINCT FROM code * 2") == "0");
  return run;
}

// Whether another session (sluice's copy) holds SHARE UPDATE EXCLUSIVE on `table`.
bool copy_lock_held(sluice::postgres::Connection& db, const std::string& table) {
  return db.query_value(
             "SELECT 1 FROM pg_locks WHERE relation = to_regclass($1) AND mode = "
             "'ShareUpdateExclusiveLock' AND granted AND pid <> pg_backend_pid()",
             {table}) == "1";
}

}  // namespace

TEST_CASE("change types (key integer to bigint, varchar to text, text to jsonb USING) under load") {
  RunResult run = migrate_under_load("pg_types",
                                     "ALTER COLUMN id TYPE bigint, ALTER COLUMN k TYPE bigint, "
                                     "ALTER COLUMN name TYPE text, ALTER COLUMN doc TYPE jsonb "
                                     "USING doc::jsonb",
                                     20000, false);
  auto db = postgres_admin();
  CHECK(pg_column_type(*db, "pg_types", "id") == "bigint");
  CHECK(pg_column_type(*db, "pg_types", "name") == "text");
  CHECK(pg_column_type(*db, "pg_types", "doc") == "jsonb");
  CHECK(run.out.find("rows verified") != std::string::npos);
  CHECK(run.err.find("writes were blocked for") != std::string::npos);
  // The key's unique constraint kept its name, so ON CONFLICT ON CONSTRAINT still works.
  CHECK(db->query_value("SELECT conname FROM pg_constraint WHERE conrelid = 'pg_types'::regclass "
                        "AND contype = 'p'") == "pg_types_pkey");
  // The index on k was built after the copy, on the new type, under its original name.
  CHECK(run.err.find("built an index of the shadow table") != std::string::npos);
  CHECK(db->query_value("SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY "
                        "indexrelid::regclass::text) FROM "
                        "pg_index WHERE indrelid = 'pg_types'::regclass AND NOT indisunique") ==
        "pg_types_k,pg_types_pa");
  // So were the key's, and the partial unique index kept its name and predicate.
  CHECK(run.err.find("built a key or unique index of the shadow table") != std::string::npos);
  CHECK(db->query_value("SELECT pg_get_indexdef('pg_types_pu'::regclass)") ==
        "CREATE UNIQUE INDEX pg_types_pu ON public.pg_types USING btree (id) WHERE (k >= 50)");
}

TEST_CASE("add a column with a default, drop a column, add a CHECK constraint, under load") {
  migrate_under_load("pg_multi",
                     "ADD COLUMN note text NOT NULL DEFAULT 'n/a', DROP COLUMN legacy, "
                     "ADD CONSTRAINT amount_range CHECK (amount > -100000)",
                     8000, false, {"--force-rebuild"});
  auto db = postgres_admin();
  CHECK(pg_column_type(*db, "pg_multi", "note") == "text");
  CHECK(pg_column_type(*db, "pg_multi", "legacy").empty());
  CHECK(db->query_value("SELECT count(*) FROM pg_multi WHERE note = 'n/a'") ==
        db->query_value("SELECT count(*) FROM pg_multi"));
  CHECK(db->query_value("SELECT 1 FROM pg_constraint WHERE conname = 'amount_range'") == "1");
}

TEST_CASE(
    "an added column's stable default gives existing rows one value, a volatile one each its own") {
  migrate_under_load("pg_now",
                     "ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(), ADD COLUMN stamped "
                     "timestamptz NOT NULL DEFAULT clock_timestamp(), ALTER COLUMN k TYPE bigint",
                     20000, false);
  auto db = postgres_admin();
  // The rows that were in the table until the swap (the old table has them, with the same code):
  // what the server's own ALTER would have given them. Rows the writer inserted after the swap
  // take the default themselves and are left out.
  const std::string existing =
      " FROM pg_now n JOIN _pg_now_old o ON o.id = n.id AND o.code = n.code";
  CHECK(db->query_value("SELECT count(*)" + existing).value_or("0") != "0");
  CHECK(db->query_value("SELECT count(DISTINCT n.created_at)" + existing) == "1");
  CHECK(db->query_value("SELECT count(DISTINCT n.stamped) > 1000" + existing) == "t");
}

TEST_CASE("a server that ends sessions idle in a transaction does not end the copy's snapshot") {
  // Every session of the run ends after 300 ms idle in a transaction; the copy (200 chunks)
  // lasts longer, and the session holding its snapshot idles throughout.
  const RunResult run = migrate_under_load(
      "pg_idle_tx", "ALTER COLUMN k TYPE bigint", 20000, false, {"--chunk-size", "100"},
      dsn() + "?options=-c%20idle_in_transaction_session_timeout%3D300");
  CHECK(run.err.find("starts over") == std::string::npos);
}

TEST_CASE("a composite primary key whose column type changes") {
  migrate_under_load(
      "pg_comp", "ALTER COLUMN a TYPE bigint, ALTER COLUMN amount TYPE numeric(14,4)", 6000, true);
  auto db = postgres_admin();
  CHECK(pg_column_type(*db, "pg_comp", "a") == "bigint");
}

// The shadow (CREATE TABLE … LIKE) names its copy of the constraint `_pg_dropuq_new_code_key`:
// the ALTER's constraint names are mapped to the shadow's before it runs there.
TEST_CASE("dropping a UNIQUE constraint that is not the primary key, under load") {
  auto db = postgres_admin();
  migrate_under_load("pg_dropuq", "DROP CONSTRAINT pg_dropuq_code_key, ALTER COLUMN k TYPE bigint",
                     5000, false);
  CHECK(db->query_value("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                        "'pg_dropuq'::regclass AND contype = 'u'") == "0");
  CHECK(db->query_value("SELECT conname FROM pg_constraint WHERE conrelid = "
                        "'pg_dropuq'::regclass AND contype = 'p'") == "pg_dropuq_pkey");
}

// A rename made by a rebuild (PostgreSQL runs RENAME alone, so only --force-rebuild gets it
// there): the swap, which gives the new table's indexes the original names, leaves the name the
// ALTER chose.
TEST_CASE("renaming a UNIQUE constraint in a forced rebuild keeps the new name") {
  auto db = postgres_admin();
  migrate_under_load("pg_renuq", "RENAME CONSTRAINT pg_renuq_code_key TO pg_renuq_code_uq", 3000,
                     false, {"--force-rebuild"});
  CHECK(db->query_value("SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint "
                        "WHERE conrelid = 'pg_renuq'::regclass AND contype IN ('u', 'p')") ==
        "pg_renuq_code_uq,pg_renuq_pkey");
}

TEST_CASE("an empty table and a table of one row") {
  migrate_under_load("pg_empty", "ALTER COLUMN k TYPE bigint", 0, false);
  migrate_under_load("pg_one", "ALTER COLUMN k TYPE bigint", 1, false);
}

TEST_CASE("identity and serial sequences continue after the cut-over") {
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS pg_ident, _pg_ident_old, pg_serial, _pg_serial_old CASCADE; "
      "CREATE TABLE pg_ident (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v integer); "
      "CREATE TABLE pg_serial (id serial PRIMARY KEY, v integer); "
      "INSERT INTO pg_ident (v) SELECT g FROM generate_series(1, 500) g; "
      "INSERT INTO pg_serial (v) SELECT g FROM generate_series(1, 500) g");
  for (const std::string table : {"pg_ident", "pg_serial"}) {
    RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", table, "--alter",
                                "ALTER COLUMN v TYPE bigint", "--execute"});
    INFO(table << ": " << run.out << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(db->query_value("INSERT INTO " + table + " (v) VALUES (0) RETURNING id") == "501");
    CHECK(db->query_value("SELECT pg_get_serial_sequence('" + table + "', 'id')") ==
          "public." + table + "_id_seq");
    // The sequence no longer belongs to the old table: dropping it leaves the new one working.
    db->execute("DROP TABLE _" + table + "_old");
    CHECK(db->query_value("INSERT INTO " + table + " (v) VALUES (0) RETURNING id") == "502");
  }
}

TEST_CASE("comments, storage parameters, grants and row security policies are kept") {
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS pg_kept, _pg_kept_old CASCADE; DROP ROLE IF EXISTS kept_reader; "
      "CREATE ROLE kept_reader; "
      "CREATE TABLE pg_kept (id integer PRIMARY KEY, owner_name text, v integer CHECK (v >= 0)) "
      "WITH (fillfactor = 70); "
      "COMMENT ON TABLE pg_kept IS 'kept table'; COMMENT ON COLUMN pg_kept.v IS 'the value'; "
      "GRANT SELECT, UPDATE ON pg_kept TO kept_reader; "
      "ALTER TABLE pg_kept ENABLE ROW LEVEL SECURITY; "
      "CREATE POLICY own_rows ON pg_kept FOR SELECT TO kept_reader USING (owner_name = "
      "current_user); "
      "INSERT INTO pg_kept SELECT g, 'u' || g, g FROM generate_series(1, 100) g; "
      "ALTER TABLE pg_kept REPLICA IDENTITY FULL; "
      "DROP PUBLICATION IF EXISTS kept_cdc; "
      "CREATE PUBLICATION kept_cdc FOR TABLE pg_kept (id, v) WHERE (v > 10)");
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_kept", "--alter",
                              "ALTER COLUMN v TYPE bigint", "--execute"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(db->query_value("SELECT obj_description('pg_kept'::regclass, 'pg_class')") == "kept table");
  CHECK(db->query_value("SELECT col_description('pg_kept'::regclass, 3)") == "the value");
  CHECK(db->query_value("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = "
                        "'pg_kept'::regclass") == "fillfactor=70");
  CHECK(db->query_value("SELECT has_table_privilege('kept_reader', 'pg_kept', 'UPDATE')") == "t");
  CHECK(db->query_value("SELECT relrowsecurity FROM pg_class WHERE oid = 'pg_kept'::regclass") ==
        "t");
  CHECK(db->query_value("SELECT count(*) FROM pg_policies WHERE tablename = 'pg_kept'") == "1");
  CHECK_THROWS(db->execute("INSERT INTO pg_kept VALUES (1000, 'x', -1)"));
  // The application's own publication and replica identity follow the table.
  CHECK(db->query_value("SELECT relreplident FROM pg_class WHERE oid = 'pg_kept'::regclass") ==
        "f");
  CHECK(db->query_value("SELECT string_agg(tablename || ' ' || array_to_string(attnames, ',') || "
                        "' ' || rowfilter, '; ') FROM pg_publication_tables WHERE pubname = "
                        "'kept_cdc'") == "pg_kept id,v (v > 10)");
  db->execute("DROP PUBLICATION kept_cdc");
}

TEST_CASE("triggers do not fire while the new table fills, and fire on it after the swap") {
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS pg_trig, _pg_trig_old, pg_trig_audit CASCADE; "
      "CREATE TABLE pg_trig_audit (id integer, op text); "
      "CREATE TABLE pg_trig (id integer PRIMARY KEY, v integer, touched integer DEFAULT 0); "
      "CREATE OR REPLACE FUNCTION pg_trig_bump() RETURNS trigger LANGUAGE plpgsql AS "
      "'BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END'; "
      "CREATE OR REPLACE FUNCTION pg_trig_log() RETURNS trigger LANGUAGE plpgsql AS "
      "'BEGIN INSERT INTO pg_trig_audit VALUES (NEW.id, TG_OP); RETURN NULL; END'; "
      "CREATE TRIGGER \"Bump it\" BEFORE INSERT OR UPDATE ON pg_trig FOR EACH ROW EXECUTE "
      "FUNCTION pg_trig_bump(); "
      "CREATE TRIGGER log_it AFTER INSERT OR UPDATE ON pg_trig FOR EACH ROW EXECUTE FUNCTION "
      "pg_trig_log(); "
      "CREATE TRIGGER off_it AFTER DELETE ON pg_trig FOR EACH ROW EXECUTE FUNCTION "
      "pg_trig_log(); "
      "ALTER TABLE pg_trig DISABLE TRIGGER off_it; "
      "INSERT INTO pg_trig (id, v) SELECT g, g FROM generate_series(1, 200) g");
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_trig", "--alter",
                              "ALTER COLUMN v TYPE bigint", "--execute"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  // Neither the copy nor the applier fired them: values and the audit are as before.
  CHECK(db->query_value("SELECT count(*) FROM pg_trig_audit") == "200");
  CHECK(db->query_value("SELECT sum(touched) FROM pg_trig") == "200");
  db->execute(
      "INSERT INTO pg_trig (id, v) VALUES (1000, 1); UPDATE pg_trig SET v = 2 WHERE id = "
      "1; DELETE FROM pg_trig WHERE id = 2");
  CHECK(db->query_value("SELECT count(*) FROM pg_trig_audit") == "202");
  CHECK(db->query_value("SELECT touched FROM pg_trig WHERE id = 1") == "2");
  CHECK(db->query_value(
            "SELECT string_agg(tgname || '=' || tgenabled::text, ',' ORDER BY tgname) FROM "
            "pg_trigger WHERE tgrelid = 'pg_trig'::regclass AND NOT tgisinternal") ==
        "Bump it=O,log_it=O,off_it=D");
}

TEST_CASE("quoted names in another schema, and a numeric key") {
  auto db = postgres_admin();
  db->execute(
      "DROP SCHEMA IF EXISTS \"Sales EU\" CASCADE; CREATE SCHEMA \"Sales EU\"; "
      "CREATE TABLE \"Sales EU\".\"Order \"\"Items\"\"; x\" (\"Key\" numeric(12,2) PRIMARY "
      "KEY, \"Qty\" integer NOT NULL, \"select\" text, \"ünï\" varchar(10)); "
      "INSERT INTO \"Sales EU\".\"Order \"\"Items\"\"; x\" SELECT g / 4.0, g, 'v' || g, 'ä' "
      "FROM generate_series(1, 5000) g");
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table",
                              "\"Sales EU\".\"Order \"\"Items\"\"; x\"", "--alter",
                              "ALTER COLUMN \"Qty\" TYPE bigint, DROP COLUMN \"select\", "
                              "ALTER COLUMN \"ünï\" TYPE text",
                              "--execute", "--chunk-time", "5"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(db->query_value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                        "attrelid = '\"Sales EU\".\"Order \"\"Items\"\"; x\"'::regclass AND "
                        "attname = 'Qty'") == "bigint");
  CHECK(db->query_value("SELECT count(*) || ' ' || sum(\"Key\") || ' ' || sum(\"Qty\") FROM "
                        "\"Sales EU\".\"Order \"\"Items\"\"; x\"") == "5000 3125625.00 12502500");
  CHECK(db->query_value("SELECT to_regclass('\"Sales EU\".\"_Order \"\"Items\"\"; x_old\"')::text")
            .has_value());
  db->execute("DROP SCHEMA \"Sales EU\" CASCADE");
}

TEST_CASE("hostile table and column names are quoted everywhere and migrate under writes") {
  auto db = postgres_admin();
  // Double quotes, a backtick, a semicolon, spaces, a comment marker and multi-byte text.
  const std::string table = "we\"ird`; 'tab' -- \xc3\xa4";
  const std::string twin = "hostile \"twin\"";
  const auto q = [](const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
      out += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return out + "\"";
  };
  for (const std::string& name : {table, twin, "_" + table + "_new", "_" + table + "_old"}) {
    db->execute("DROP TABLE IF EXISTS " + q(name));
  }
  const std::string columns =
      "(\"i\"\"d\" int PRIMARY KEY, \"v; DROP TABLE x\" int NOT NULL, "
      "\"n `\xc3\xa4`\" varchar(20))";
  for (const std::string& name : {table, twin}) {
    db->execute("CREATE TABLE " + q(name) + " " + columns + "; INSERT INTO " + q(name) +
                " SELECT g, g % 7, 'r' || g FROM generate_series(1, 3000) g");
  }
  std::atomic<bool> stop{false};
  std::atomic<int> transactions{0};
  std::thread writer([&] {
    auto app = postgres_admin();
    for (int i = 0; !stop; ++i) {
      for (const std::string& name : {table, twin}) {
        app->execute("BEGIN; UPDATE " + q(name) +
                     " SET \"v; DROP TABLE x\" = \"v; DROP TABLE x\" + 1 WHERE \"i\"\"d\" = " +
                     std::to_string(1 + (i * 7919) % 3000) + "; INSERT INTO " + q(name) +
                     " VALUES (" + std::to_string(10000 + i) +
                     ", 1, 'new \xc3\xa4') ON CONFLICT (\"i\"\"d\") DO NOTHING; DELETE FROM " +
                     q(name) + " WHERE \"i\"\"d\" = " + std::to_string(1 + (i * 104729) % 3000) +
                     "; COMMIT");
      }
      ++transactions;
    }
  });
  // The name on the command line is quoted as in SQL, double quotes doubled.
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", q(table), "--alter",
                              "ALTER COLUMN \"v; DROP TABLE x\" TYPE bigint, ALTER COLUMN "
                              "\"n `\xc3\xa4`\" TYPE varchar(40)",
                              "--execute", "--chunk-time", "20"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  writer.join();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(transactions > 0);
  CHECK_FALSE(pg_table_exists(*db, "x"));
  const auto rows = [&](const std::string& name) {
    return db->query("SELECT * FROM " + q(name) + " ORDER BY 1");
  };
  CHECK(rows(table) == rows(twin));
  CHECK(db->query_value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                        "attrelid = to_regclass($1) AND attname = 'v; DROP TABLE x'",
                        {"public." + q(table)}) == "bigint");
  CHECK(db->query_value("SELECT to_regclass($1)::text", {"public." + q("_" + table + "_old")})
            .has_value());
  CHECK(sluice_objects(*db, table).empty());
  for (const std::string& name : {table, twin, "_" + table + "_old"}) {
    db->execute("DROP TABLE " + q(name));
  }
}

TEST_CASE("a cut-over that cannot get its lock leaves the table untouched and retries") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_busy", "pg_busy_twin", 3000, false);
  // A reader with an open transaction: it blocks only the ACCESS EXCLUSIVE lock of the swap.
  auto blocker = postgres_admin();
  blocker->execute("BEGIN; SELECT count(*) FROM pg_busy");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    blocker->execute("COMMIT");
  });
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_busy", "--alter",
                              "ALTER COLUMN k TYPE bigint", "--execute", "--cutover-lock-timeout",
                              "300", "--cutover-attempts", "10"});
  release.join();
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("cut-over could not lock") != std::string::npos);
  CHECK(pg_column_type(*db, "pg_busy", "k") == "bigint");
  CHECK(pg_table_rows(*db, "pg_busy", "pg_busy_twin", "pg_busy") ==
        pg_table_rows(*db, "pg_busy_twin", "pg_busy", "pg_busy"));
}

TEST_CASE("a cut-over that never gets its lock gives up and leaves the original table") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_stuck", "pg_stuck_twin", 100, false);
  auto blocker = postgres_admin();
  blocker->execute("BEGIN; SELECT count(*) FROM pg_stuck");
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_stuck", "--alter",
                              "ALTER COLUMN k TYPE bigint", "--execute", "--cutover-lock-timeout",
                              "100", "--cutover-attempts", "2"});
  blocker->execute("COMMIT");
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("cut-over failed 2 times") != std::string::npos);
  CHECK(pg_column_type(*db, "pg_stuck", "k") == "integer");
  CHECK_FALSE(pg_table_exists(*db, "_pg_stuck_new"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_stuck_old"));
  CHECK(sluice_objects(*db, "pg_stuck").empty());
}

TEST_CASE("a dry run prints the plan and creates nothing") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_dry", "pg_dry_twin", 10, false);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_dry", "--alter",
                              "ALTER COLUMN k TYPE bigint, DROP COLUMN data"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("key the copy walks: pg_dry_pkey (\"id\")") != std::string::npos);
  CHECK(run.out.find("columns dropped:    \"data\"") != std::string::npos);
  CHECK(run.out.find("CREATE TABLE \"public\".\"_pg_dry_new\" (LIKE \"public\".\"pg_dry\" "
                     "INCLUDING ALL)") != std::string::npos);
  CHECK(run.out.find("dry run: nothing was changed") != std::string::npos);
  CHECK_FALSE(pg_table_exists(*db, "_pg_dry_new"));
  CHECK(sluice_objects(*db, "pg_dry").empty());
  CHECK(pg_column_type(*db, "pg_dry", "k") == "integer");
}

TEST_CASE("a nullable ADD COLUMN is applied in the catalog, without a copy") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_instant", "pg_instant_twin", 100, false);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_instant", "--alter",
                              "ADD COLUMN extra integer", "--execute"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("applied the change in place") != std::string::npos);
  CHECK(pg_column_type(*db, "pg_instant", "extra") == "integer");
  CHECK_FALSE(pg_table_exists(*db, "_pg_instant_old"));
}

TEST_CASE("foreign keys to and from the table and dependent views follow it to the new table") {
  auto db = postgres_admin();
  db->execute(
      "DROP TABLE IF EXISTS pg_child, pg_mid, _pg_mid_old, pg_top CASCADE; "
      "CREATE TABLE pg_top (id integer PRIMARY KEY); "
      "CREATE TABLE pg_mid (id integer PRIMARY KEY, top_id integer REFERENCES pg_top ON DELETE "
      "CASCADE, v integer, note text); "
      "CREATE TABLE pg_child (id integer PRIMARY KEY, mid_id integer NOT NULL REFERENCES pg_mid "
      "(id)); "
      "CREATE VIEW pg_mid_view WITH (security_barrier = true) AS SELECT id, top_id FROM pg_mid "
      "WHERE top_id IS NOT NULL; "
      "GRANT SELECT ON pg_mid_view TO PUBLIC; "
      "INSERT INTO pg_top SELECT g FROM generate_series(1, 100) g; "
      "INSERT INTO pg_mid SELECT g, g % 100 + 1, g, 'n' FROM generate_series(1, 3000) g; "
      "INSERT INTO pg_child SELECT g, g FROM generate_series(1, 3000, 3) g");
  RunResult run =
      run_sluice({"alter", "--dsn", dsn(), "--table", "pg_mid", "--alter",
                  "ALTER COLUMN v TYPE bigint, ALTER COLUMN note TYPE varchar(20)", "--execute"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.find("validated foreign key") != std::string::npos);
  CHECK(pg_column_type(*db, "pg_mid", "v") == "bigint");
  // The child's foreign key now points at the new table, validated, and enforces.
  CHECK(db->query_value("SELECT confrelid::regclass::text || ' ' || convalidated FROM "
                        "pg_constraint WHERE conrelid = 'pg_child'::regclass AND contype = "
                        "'f'") == "pg_mid true");
  CHECK_THROWS(db->execute("INSERT INTO pg_child VALUES (100000, 999999)"));
  CHECK_THROWS(db->execute("DELETE FROM pg_mid WHERE id = 1"));
  db->execute(
      "INSERT INTO pg_mid VALUES (5000, 1, 1, 'x'); INSERT INTO pg_child VALUES (5000, "
      "5000)");
  // The new table's own foreign key enforces and cascades; the old table's is gone.
  CHECK(db->query_value("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                        "'_pg_mid_old'::regclass AND contype = 'f'") == "0");
  CHECK_THROWS(db->execute("INSERT INTO pg_mid VALUES (6000, 424242, 1, 'x')"));
  db->execute("DELETE FROM pg_child; DELETE FROM pg_top WHERE id = 2");
  CHECK(db->query_value("SELECT count(*) FROM pg_mid WHERE top_id = 2") == "0");
  // The view reads the new table and kept its options and grants.
  CHECK(db->query_value("SELECT count(*) FROM pg_mid_view WHERE id = 5000") == "1");
  CHECK(db->query_value("SELECT refobjid::regclass::text FROM pg_depend d JOIN pg_rewrite r ON "
                        "r.oid = d.objid WHERE r.ev_class = 'pg_mid_view'::regclass AND "
                        "d.refobjid <> r.ev_class AND d.refclassid = 'pg_class'::regclass "
                        "LIMIT 1") == "pg_mid");
  CHECK(db->query_value("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = "
                        "'pg_mid_view'::regclass") == "security_barrier=true");
  CHECK(db->query_value("SELECT has_table_privilege('public', 'pg_mid_view', 'SELECT')") == "t");
}

TEST_CASE("views reading a changed column, materialized views and self references are refused") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_viewed", "pg_viewed_twin", 10, false);
  db->execute(
      "DROP VIEW IF EXISTS pg_viewed_kv; CREATE VIEW pg_viewed_kv AS SELECT id, k FROM "
      "pg_viewed");
  RunResult changed = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_viewed", "--alter",
                                  "ALTER COLUMN k TYPE bigint", "--execute"});
  CHECK(changed.exit_code == 5);
  CHECK(changed.err.find("pg_viewed_kv reads column \"k\"") != std::string::npos);
  db->execute(
      "DROP VIEW pg_viewed_kv; CREATE MATERIALIZED VIEW pg_viewed_m AS SELECT id FROM "
      "pg_viewed");
  RunResult materialized = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_viewed", "--alter",
                                       "ALTER COLUMN k TYPE bigint", "--execute"});
  CHECK(materialized.exit_code == 5);
  CHECK(materialized.err.find("materialized") != std::string::npos);
  db->execute(
      "DROP MATERIALIZED VIEW pg_viewed_m; ALTER TABLE pg_viewed ADD COLUMN parent "
      "integer REFERENCES pg_viewed (id)");
  RunResult self = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_viewed", "--alter",
                               "ALTER COLUMN k TYPE bigint", "--execute"});
  CHECK(self.exit_code == 5);
  CHECK(self.err.find("referencing itself") != std::string::npos);
  CHECK_FALSE(pg_table_exists(*db, "_pg_viewed_new"));
  CHECK(sluice_objects(*db, "pg_viewed").empty());
  CHECK(pg_column_type(*db, "pg_viewed", "k") == "integer");
}

TEST_CASE("unique constraints, primary key changes and renames are refused") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_refuse", "pg_refuse_twin", 10, false);
  for (const char* alter :
       {"ADD CONSTRAINT k_unique UNIQUE (k)", "DROP CONSTRAINT pg_refuse_pkey",
        "RENAME COLUMN k TO k2", "ALTER COLUMN k TYPE bigint; DROP TABLE pg_refuse"}) {
    RunResult run = run_sluice(
        {"alter", "--dsn", dsn(), "--table", "pg_refuse", "--alter", alter, "--execute"});
    INFO(alter << ": " << run.err);
    CHECK(run.exit_code != 0);
    CHECK(run.err.find("sluice: error:") != std::string::npos);
    CHECK_FALSE(pg_table_exists(*db, "_pg_refuse_new"));
    CHECK(pg_table_exists(*db, "pg_refuse"));
  }
}

TEST_CASE("a TRUNCATE during the copy stops the migration and leaves nothing behind") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_trunc", "pg_trunc_twin", 100000, false);
  const std::string oid = *db->query_value("SELECT 'pg_trunc'::regclass::oid::text");
  std::atomic<bool> finished{false};
  std::atomic<bool> truncated{false};
  std::thread truncate([&] {
    auto session = postgres_admin();
    // Once the slot exists, the TRUNCATE is in the change stream.
    while (!finished) {
      if (session->query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                               {"sluice_alter_" + oid})) {
        session->execute("TRUNCATE pg_trunc");
        truncated = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_trunc", "--alter",
                              "ALTER COLUMN k TYPE bigint", "--execute", "--chunk-time", "5"});
  finished = true;
  truncate.join();
  REQUIRE(truncated);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 6);
  CHECK(run.err.find("truncated") != std::string::npos);
  CHECK_FALSE(pg_table_exists(*db, "_pg_trunc_new"));
  CHECK(sluice_objects(*db, "pg_trunc").empty());
  CHECK(pg_column_type(*db, "pg_trunc", "k") == "integer");
}

TEST_CASE(
    "another session's ALTER during the copy, under writes, stops the run before the cut-over") {
  // DDL is not streamed: the next change of the table comes after a RELATION message with the
  // new columns. The decoder took it and the applier went on by column position, so the swap
  // dropped the new column (and a dropped column shifted values into the wrong columns).
  auto db = postgres_admin();
  create_pg_table(*db, "pg_ddl", "pg_ddl_twin", 60000, false);
  const std::string oid = *db->query_value("SELECT 'pg_ddl'::regclass::oid::text");
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_ddl", "pg_ddl_twin");
  writer.start();
  std::atomic<bool> finished{false};
  std::atomic<bool> changed{false};
  std::thread other([&] {
    auto session = postgres_admin();
    while (!finished) {
      if (session->query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                               {"sluice_alter_" + oid})) {
        session->execute("ALTER TABLE pg_ddl ADD COLUMN sneaky int DEFAULT 7");
        changed = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_ddl", "--alter",
                              "ALTER COLUMN k TYPE bigint", "--execute", "--chunk-time", "5"});
  finished = true;
  other.join();
  writer.stop();
  REQUIRE(changed);
  INFO(run.out << run.err);
  CHECK(run.exit_code == 6);
  CHECK(run.err.find("changed the columns of public.pg_ddl") != std::string::npos);
  CHECK_FALSE(pg_table_exists(*db, "_pg_ddl_new"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_ddl_old"));
  CHECK(sluice_objects(*db, "pg_ddl").empty());
  CHECK(pg_column_type(*db, "pg_ddl", "k") == "integer");
  CHECK(pg_column_type(*db, "pg_ddl", "sneaky") == "integer");
  CHECK(pg_table_rows(*db, "pg_ddl", "pg_ddl_twin", "pg_ddl") ==
        pg_table_rows(*db, "pg_ddl_twin", "pg_ddl", "pg_ddl"));
}

TEST_CASE("SIGTERM during the copy drops the shadow table, slot and publication") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_stop", "pg_stop_twin", 100000, false);
  const std::string slot =
      "sluice_alter_" + *db->query_value("SELECT 'pg_stop'::regclass::oid::text");
  SluiceProcess sluice({"alter", "--dsn", dsn(), "--table", "pg_stop", "--alter",
                        "ALTER COLUMN k TYPE bigint", "--execute", "--chunk-time", "5"});
  // Once the slot exists the copy is about to start or running.
  bool started = false;
  for (int i = 0; i < 2000 && !started; ++i) {
    started = db->query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot})
                  .has_value();
    if (!started) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  REQUIRE(started);
  CHECK(sluice.stop(SIGTERM) == 130);
  CHECK_FALSE(pg_table_exists(*db, "_pg_stop_new"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_stop_old"));
  CHECK(sluice_objects(*db, "pg_stop").empty());
  CHECK(pg_column_type(*db, "pg_stop", "k") == "integer");
}

TEST_CASE("cleanup removes the slot, publication and shadow table of a crashed run") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_left", "pg_left_twin", 5, false);
  const std::string name =
      "sluice_alter_" + *db->query_value("SELECT 'pg_left'::regclass::oid::text");
  // What a run killed with SIGKILL during the copy leaves behind.
  db->execute("CREATE PUBLICATION " + name + " FOR TABLE pg_left");
  db->query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", {name});
  db->execute("CREATE TABLE _pg_left_new (LIKE pg_left INCLUDING ALL)");
  RunResult refused = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_left", "--alter",
                                  "ALTER COLUMN k TYPE bigint", "--execute"});
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("sluice cleanup") != std::string::npos);
  RunResult cleaned = run_sluice({"cleanup", "--dsn", dsn(), "--table", "pg_left"});
  INFO(cleaned.out << cleaned.err);
  CHECK(cleaned.exit_code == 0);
  CHECK(cleaned.out.find("dropped replication slot " + name) != std::string::npos);
  CHECK(cleaned.out.find("dropped publication " + name) != std::string::npos);
  CHECK(cleaned.out.find("dropped \"public\".\"_pg_left_new\"") != std::string::npos);
  CHECK(sluice_objects(*db, "pg_left").empty());
  CHECK_FALSE(pg_table_exists(*db, "_pg_left_new"));
  RunResult again = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_left", "--alter",
                                "ALTER COLUMN k TYPE bigint", "--execute"});
  INFO(again.err);
  CHECK(again.exit_code == 0);
  RunResult nothing = run_sluice({"cleanup", "--dsn", dsn(), "--table", "pg_left"});
  CHECK(nothing.out.find("nothing to clean up") != std::string::npos);
  CHECK(pg_table_exists(*db, "_pg_left_old"));
}

namespace {

// A file under /tmp named for the test, removed on destruction.
struct FlagFile {
  std::string path;
  explicit FlagFile(const std::string& name) : path("/tmp/sluice-pg-steer-" + name) {
    std::filesystem::remove(path);
  }
  ~FlagFile() { std::filesystem::remove(path); }
  void touch() const { std::ofstream(path) << ""; }
  void remove() const { std::filesystem::remove(path); }
};

// Removes the record of an earlier run of `name`, so that a test can run again.
void forget_run(const std::string& name) {
  sluice::test::phase_store(sluice::parse_dsn(dsn()), std::nullopt)->ensure_schema();
  postgres_admin()->query("DELETE FROM sluice.migrations WHERE name = $1", {name});
}

std::string phase_of(const std::string& name) {
  RunResult status = run_sluice({"status", "--dsn", dsn(), name, "--json"});
  REQUIRE(status.exit_code == 0);
  return nlohmann::json::parse(status.out)["phase"].get<std::string>();
}

}  // namespace

TEST_CASE("steering on PostgreSQL: a throttle file pauses the copy, a postpone file the swap") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_steer", "pg_steer_twin", 20000, false);
  forget_run("pg-steer-1");
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_steer", "pg_steer_twin");
  writer.start();
  FlagFile throttle("throttle");
  FlagFile postpone("postpone");
  throttle.touch();
  postpone.touch();
  SluiceProcess sluice({"alter", "--dsn", dsn(), "--table", "pg_steer", "--alter",
                        "ALTER COLUMN k TYPE bigint", "--execute", "--name", "pg-steer-1",
                        "--throttle-flag-file", throttle.path, "--postpone-cutover-flag-file",
                        postpone.path, "--json", "--status-interval", "0.2"});
  REQUIRE(sluice.wait_for("\"state\":\"paused\"", std::chrono::milliseconds(60000)));
  // Paused before its first chunk: the shadow table exists and is empty; the run is recorded.
  CHECK(db->query_value("SELECT count(*) FROM _pg_steer_new") == "0");
  CHECK(phase_of("pg-steer-1") == "backfilling");

  throttle.remove();
  REQUIRE(sluice.wait_for("\"state\":\"waiting\"", std::chrono::milliseconds(120000)));
  CHECK(pg_column_type(*db, "pg_steer", "k") == "integer");

  postpone.remove();
  CHECK(sluice.wait(std::chrono::milliseconds(120000)) == 0);
  writer.stop();
  CHECK(pg_column_type(*db, "pg_steer", "k") == "bigint");
  CHECK(sluice_objects(*db, "pg_steer").empty());
  const Rows migrated = pg_table_rows(*db, "pg_steer", "pg_steer_twin", "pg_steer");
  const Rows expected = pg_table_rows(*db, "pg_steer_twin", "pg_steer", "pg_steer");
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  CHECK(phase_of("pg-steer-1") == "switched");
  CHECK(run_sluice({"status", "--dsn", dsn(), "pg-steer-1"})
            .out.find("not revertible: it ran without --revertible") != std::string::npos);
  // Not run with --revertible, so no reverse slot was kept: refused, nothing changed.
  check_refusal(run_sluice({"revert", "--dsn", dsn(), "pg-steer-1"}), 5,
                "on PostgreSQL without --revertible");
  CHECK(pg_column_type(*db, "pg_steer", "k") == "bigint");
  CHECK(phase_of("pg-steer-1") == "switched");
}

TEST_CASE("DDL committed while no row changes follow it still stops the cut-over") {
  // PostgreSQL's change stream carries no DDL: another session's ALTER shows only with the next
  // row change of the table. Committed while the run waits before its cut-over, with no write
  // after it, the swap would replace the table by a shadow without the new column.
  auto db = postgres_admin();
  create_pg_table(*db, "pg_ddlquiet", "pg_ddlquiet_twin", 5000, false);
  FlagFile postpone("postpone-ddl");
  postpone.touch();
  SluiceProcess sluice(
      {"alter", "--dsn", dsn(), "--table", "pg_ddlquiet", "--alter", "ALTER COLUMN k TYPE bigint",
       "--execute", "--postpone-cutover-flag-file", postpone.path},
      true);
  REQUIRE(sluice.wait_for("the shadow table equals the original", std::chrono::seconds(120)));
  db->execute("ALTER TABLE pg_ddlquiet ADD COLUMN sneaky int DEFAULT 7");
  postpone.remove();
  CHECK(sluice.wait(std::chrono::seconds(120)) == 6);
  INFO(sluice.out());
  CHECK(sluice.out().find("changed the definition of \"public\".\"pg_ddlquiet\"") !=
        std::string::npos);
  CHECK(pg_column_type(*db, "pg_ddlquiet", "k") == "integer");
  CHECK(pg_column_type(*db, "pg_ddlquiet", "sneaky") == "integer");
  CHECK_FALSE(pg_table_exists(*db, "_pg_ddlquiet_new"));
  CHECK(sluice_objects(*db, "pg_ddlquiet").empty());
}

TEST_CASE("a VACUUM FULL during the copy stops the run before anything is swapped") {
  // sluice lets go of its lock for a rewrite that waits for it (docs/alter.md, step 4), so the
  // rewrite goes on at once; its rows then sit on other pages than the ranges copied so far,
  // and going on would lose or duplicate them.
  auto db = postgres_admin();
  create_pg_table(*db, "pg_vacfull", "pg_vacfull_twin", 20000, false);
  forget_run("pg-vacfull");
  const std::string slot =
      "sluice_alter_" + *db->query_value("SELECT 'pg_vacfull'::regclass::oid::text");
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_vacfull", "pg_vacfull_twin");
  writer.start();
  FlagFile throttle("throttle-vacfull");
  throttle.touch();
  SluiceProcess sluice(
      {"alter", "--dsn", dsn(), "--table", "pg_vacfull", "--alter", "ALTER COLUMN k TYPE bigint",
       "--execute", "--name", "pg-vacfull", "--throttle-flag-file", throttle.path, "--json",
       "--status-interval", "0.2"},
      /*with_stderr=*/true);
  INFO(sluice.out());
  REQUIRE(sluice.wait_for("\"state\":\"paused\"", std::chrono::milliseconds(60000)));
  REQUIRE(db->query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot}));
  REQUIRE(eventually([&] { return copy_lock_held(*db, "pg_vacfull"); }, std::chrono::seconds(10)));
  // Waiting for the lock, the rewrite is let through well within its lock_timeout.
  // Named apart from sluice's own sessions, whose waits sluice logs only at debug level.
  db->execute("SET application_name = 'dba'; SET lock_timeout = '5s'");
  db->execute("VACUUM FULL pg_vacfull");
  db->execute("RESET lock_timeout");
  throttle.remove();
  const int exit_code = sluice.wait(std::chrono::milliseconds(120000));
  writer.stop();
  CHECK(exit_code == 6);
  INFO(sluice.out());
  CHECK(sluice.out().find("rewrote \"public\".\"pg_vacfull\"") != std::string::npos);
  CHECK(sluice.out().find("sluice let go of its lock") != std::string::npos);
  CHECK_FALSE(pg_table_exists(*db, "_pg_vacfull_new"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_vacfull_old"));
  CHECK(sluice_objects(*db, "pg_vacfull").empty());
  CHECK(pg_column_type(*db, "pg_vacfull", "k") == "integer");
  const Rows table = pg_table_rows(*db, "pg_vacfull", "pg_vacfull_twin", "pg_vacfull");
  const Rows twin = pg_table_rows(*db, "pg_vacfull_twin", "pg_vacfull", "pg_vacfull");
  CHECK_MESSAGE(table == twin, first_difference(table, twin));
}

TEST_CASE("the run's lock keeps autovacuum off, lets an ANALYZE through and is taken again") {
  // As pg_repack does, sluice holds SHARE UPDATE EXCLUSIVE on the table until its cut-over: no
  // row's read or write conflicts with it, and autovacuum, which skips a table it cannot lock
  // at once, keeps off. A session that waits for it is let through within a poll (docs/alter.md,
  // step 4): an ANALYZE, which rewrites nothing, and the run goes on and takes the lock again.
  auto db = postgres_admin();
  create_pg_table(*db, "pg_cplock", "pg_cplock_twin", 20000, false);
  forget_run("pg-cplock");
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_cplock", "pg_cplock_twin");
  writer.start();
  FlagFile throttle("throttle-cplock");
  throttle.touch();
  FlagFile postpone("postpone-cplock");
  postpone.touch();
  SluiceProcess sluice(
      {"alter", "--dsn", dsn(), "--table", "pg_cplock", "--alter", "ALTER COLUMN k TYPE bigint",
       "--execute", "--name", "pg-cplock", "--throttle-flag-file", throttle.path,
       "--postpone-cutover-flag-file", postpone.path, "--json", "--status-interval", "0.2"},
      /*with_stderr=*/true);
  INFO(sluice.out());
  REQUIRE(sluice.wait_for("\"state\":\"paused\"", std::chrono::milliseconds(60000)));
  REQUIRE(eventually([&] { return copy_lock_held(*db, "pg_cplock"); }, std::chrono::seconds(10)));
  // Autovacuum's way: a lock it cannot take at once is skipped.
  CHECK_THROWS(db->execute("BEGIN; LOCK TABLE pg_cplock IN SHARE UPDATE EXCLUSIVE MODE NOWAIT"));
  db->execute("ROLLBACK");
  db->execute("SET application_name = 'dba'; SET lock_timeout = '5s'");
  db->execute("ANALYZE pg_cplock");
  db->execute("RESET lock_timeout");
  CHECK(sluice.wait_for("sluice let go of its lock", std::chrono::seconds(10)));
  CHECK(eventually([&] { return copy_lock_held(*db, "pg_cplock"); }, std::chrono::seconds(10)));
  throttle.remove();
  // Verified and waiting to cut over: the lock is held still (verification took and gave back
  // its own, which the run's let through).
  REQUIRE(sluice.wait_for("the shadow table equals the original", std::chrono::seconds(120)));
  CHECK(eventually([&] { return copy_lock_held(*db, "pg_cplock"); }, std::chrono::seconds(10)));
  postpone.remove();
  const int exit_code = sluice.wait(std::chrono::milliseconds(120000));
  writer.stop();
  REQUIRE(exit_code == 0);
  // The swap released it; nothing of sluice's holds the table or the old one.
  CHECK_FALSE(copy_lock_held(*db, "pg_cplock"));
  CHECK_FALSE(copy_lock_held(*db, "_pg_cplock_old"));
  CHECK(pg_column_type(*db, "pg_cplock", "k") == "bigint");
  const Rows table = pg_table_rows(*db, "pg_cplock", "pg_cplock_twin", "pg_cplock");
  const Rows twin = pg_table_rows(*db, "pg_cplock_twin", "pg_cplock", "pg_cplock");
  CHECK_MESSAGE(table == twin, first_difference(table, twin));
}

TEST_CASE("the copy's transactions are decoded in memory, whatever the server's setting") {
  // Each chunk is one transaction into the shadow, which the walsender decodes whole only to
  // filter it out. Past logical_decoding_work_mem it spills the transaction to disk and reads
  // it back, which took a third of a 1 M-row run (README, Performance). sluice runs as a role
  // whose sessions start with the setting at its minimum; the stream raises its own again.
  auto db = postgres_admin();
  db->execute(
      "DROP ROLE IF EXISTS spill_user; CREATE ROLE spill_user LOGIN SUPERUSER REPLICATION PASSWORD "
      "'spill-secret'; ALTER ROLE spill_user SET logical_decoding_work_mem = '64kB'");
  const std::string password_file = "/tmp/sluice-spill-password-" + std::to_string(getpid());
  {
    std::ofstream file(password_file);
    file << "spill-secret\n";
  }
  std::filesystem::permissions(
      password_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::string spill_dsn = dsn();
  spill_dsn.replace(spill_dsn.find("postgres@"), 9, "spill_user@");
  create_pg_table(*db, "pg_spill", "pg_spill_twin", 20000, false);
  forget_run("pg-spill");
  const std::string slot =
      "sluice_alter_" + *db->query_value("SELECT 'pg_spill'::regclass::oid::text");
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_spill", "pg_spill_twin");
  writer.start();
  FlagFile postpone("postpone-spill");
  postpone.touch();
  SluiceProcess sluice(
      {"alter", "--dsn", spill_dsn, "--table", "pg_spill", "--alter", "ALTER COLUMN k TYPE bigint",
       "--execute", "--name", "pg-spill", "--postpone-cutover-flag-file", postpone.path, "--json",
       "--status-interval", "0.2", "--password-file", password_file},
      /*with_stderr=*/true);
  INFO(sluice.out());
  REQUIRE(sluice.wait_for("\"state\":\"waiting\"", std::chrono::milliseconds(120000)));
  const std::vector<sluice::ResultRow> decoded = db->query(
      "SELECT spill_bytes::text, total_bytes::text FROM pg_stat_replication_slots WHERE "
      "slot_name = $1",
      {slot});
  REQUIRE(decoded.size() == 1);
  CHECK(std::stoll(decoded[0][1].value_or("0")) > 64 * 1024);  // the copy was decoded
  CHECK(decoded[0][0] == "0");
  postpone.remove();
  CHECK(sluice.wait(std::chrono::milliseconds(120000)) == 0);
  writer.stop();
  std::filesystem::remove(password_file);
  CHECK(pg_column_type(*db, "pg_spill", "k") == "bigint");
  const Rows migrated = pg_table_rows(*db, "pg_spill", "pg_spill_twin", "pg_spill");
  const Rows expected = pg_table_rows(*db, "pg_spill_twin", "pg_spill", "pg_spill");
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
}

TEST_CASE("a panic file aborts a PostgreSQL run: no shadow, slot or publication is left") {
  auto db = postgres_admin();
  create_pg_table(*db, "pg_panic", "pg_panic_twin", 100000, false);
  forget_run("pg-panic-1");
  FlagFile panic("panic");
  SluiceProcess sluice({"alter", "--dsn", dsn(), "--table", "pg_panic", "--alter",
                        "ALTER COLUMN k TYPE bigint", "--execute", "--name", "pg-panic-1",
                        "--chunk-time", "5", "--panic-flag-file", panic.path, "--json",
                        "--status-interval", "0.2"});
  REQUIRE(sluice.wait_for("\"state\":\"running\"", std::chrono::milliseconds(60000)));
  panic.touch();
  CHECK(sluice.wait(std::chrono::milliseconds(60000)) == 7);
  CHECK_FALSE(pg_table_exists(*db, "_pg_panic_new"));
  CHECK(sluice_objects(*db, "pg_panic").empty());
  CHECK(pg_column_type(*db, "pg_panic", "k") == "integer");
  CHECK(phase_of("pg-panic-1") == "aborted");
}

TEST_CASE("a table migrated again keeps each run's old table; contract drops a run's own") {
  auto db = postgres_admin();
  // What an earlier run of this test against the same server left.
  db->execute("DROP TABLE IF EXISTS _pg_again_old, _pg_again_old2, _pg_again_old3 CASCADE");
  for (const char* name : {"pg-again-1", "pg-again-2", "pg-again-3", "pg-again-4"}) {
    forget_run(name);
  }
  create_pg_table(*db, "pg_again", "pg_again_twin", 300, false);
  PgTableWriter writer(sluice::parse_dsn(dsn()), "pg_again", "pg_again_twin");
  writer.start();
  const auto migrate = [](const std::string& name, const std::string& alter) {
    const RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "pg_again", "--alter",
                                      alter, "--execute", "--chunk-time", "20", "--name", name});
    INFO(name << ": " << run.out << run.err);
    REQUIRE(run.exit_code == 0);
  };
  const auto contract = [](const std::string& name) {
    const RunResult run = run_sluice({"contract", "--dsn", dsn(), name});
    INFO(name << ": " << run.out << run.err);
    CHECK(run.exit_code == 0);
  };
  migrate("pg-again-1", "ALTER COLUMN k TYPE bigint");
  migrate("pg-again-2", "ALTER COLUMN k TYPE integer");  // right away: no manual step
  // Each old table is the one its run replaced, its key index renamed with the same suffix.
  CHECK(pg_column_type(*db, "_pg_again_old", "k") == "integer");
  CHECK(pg_column_type(*db, "_pg_again_old2", "k") == "bigint");
  CHECK(pg_table_exists(*db, "_pg_again_pkey_old"));
  CHECK(pg_table_exists(*db, "_pg_again_pkey_old2"));
  CHECK(db->query_value("SELECT conname FROM pg_constraint WHERE conrelid = 'pg_again'::regclass "
                        "AND contype = 'p'") == "pg_again_pkey");
  const RunResult status = run_sluice({"status", "--dsn", dsn(), "pg-again-2"});
  CHECK(status.out.find("old table kept as _pg_again_old2 (sluice contract pg-again-2 drops it)") !=
        std::string::npos);

  contract("pg-again-1");
  CHECK_FALSE(pg_table_exists(*db, "_pg_again_old"));
  CHECK_FALSE(pg_table_exists(*db, "_pg_again_pkey_old"));
  CHECK(pg_table_exists(*db, "_pg_again_old2"));
  auto store = phase_store(sluice::parse_dsn(dsn()), std::nullopt);
  CHECK(store->find("pg-again-1").value().phase == sluice::Phase::contracted);
  CHECK(store->find("pg-again-2").value().phase == sluice::Phase::switched);

  // The first free suffix is taken again; a run whose old table was dropped by hand must not
  // drop the table a later run keeps under the same name.
  migrate("pg-again-3", "ALTER COLUMN k TYPE bigint");
  CHECK(pg_column_type(*db, "_pg_again_old", "k") == "integer");
  db->execute("DROP TABLE _pg_again_old2");
  migrate("pg-again-4", "ALTER COLUMN k TYPE integer");
  CHECK(pg_column_type(*db, "_pg_again_old2", "k") == "bigint");
  contract("pg-again-2");
  CHECK(pg_table_exists(*db, "_pg_again_old2"));
  CHECK(store->find("pg-again-2").value().phase == sluice::Phase::contracted);
  contract("pg-again-4");
  CHECK_FALSE(pg_table_exists(*db, "_pg_again_old2"));

  writer.stop();
  CHECK(writer.transactions() > 0);
  CHECK(sluice_objects(*db, "pg_again").empty());
  const Rows migrated = pg_table_rows(*db, "pg_again", "pg_again_twin", "pg_again");
  const Rows expected = pg_table_rows(*db, "pg_again_twin", "pg_again", "pg_again");
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
}

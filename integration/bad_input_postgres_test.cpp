// Hostile and bad input to `sluice alter --execute` on a real PostgreSQL 15: every case is
// refused with one line on stderr that says what is wrong and how to fix it, with its documented
// exit code, and the database is left exactly as it was (same definition and rows, no shadow or
// old table, no slot or publication, no phase-metadata record).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::postgres);
}

// Everything a run could have changed about public.`table`: its columns and constraints, a
// hash of its rows, the tables named after it (shadow, old table), its slot and publication,
// and its phase-metadata records.
std::string table_state(sluice::postgres::Connection& db, const std::string& table) {
  const std::string regclass = "public.\"" + table + "\"";
  std::string state =
      db.query_value(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' "
            "|| attnotnull, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
            "to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            {regclass})
          .value_or("no columns") +
      "\n" +
      db.query_value(
            "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER "
            "BY conname) FROM pg_constraint WHERE conrelid = to_regclass($1)",
            {regclass})
          .value_or("no constraints") +
      "\n" +
      db.query_value("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM " + regclass +
                     " t")
          .value_or("no rows") +
      "\n";
  for (const std::string& name : {"_" + table + "_new", "_" + table + "_old"}) {
    if (db.query_value("SELECT to_regclass($1)::text", {"public.\"" + name + "\""})) {
      state += "table " + name + "\n";
    }
  }
  // Only this table's slot and publication (named after its oid): tests running in parallel
  // migrate other tables meanwhile.
  const std::string object =
      "sluice_alter_" +
      db.query_value("SELECT to_regclass($1)::oid::text", {regclass}).value_or("");
  state += "slots " +
           db.query_value(
                 "SELECT string_agg(slot_name::text, ',') FROM pg_replication_slots "
                 "WHERE slot_name = $1",
                 {object})
               .value_or("") +
           "\npublications " +
           db.query_value(
                 "SELECT string_agg(pubname::text, ',') FROM pg_publication WHERE "
                 "pubname = $1",
                 {object})
               .value_or("") +
           "\n";
  if (db.query_value("SELECT to_regclass('sluice.migrations')::text")) {
    state += "records " +
             db.query_value("SELECT count(*) FROM sluice.migrations WHERE table_name = $1",
                            {"\"public\".\"" + table + "\""})
                 .value_or("?") +
             "\n";
  }
  return state;
}

void recreate(sluice::postgres::Connection& db, const std::string& table, const std::string& body) {
  for (const std::string& name : {table, "_" + table + "_new", "_" + table + "_old"}) {
    db.execute("DROP TABLE IF EXISTS \"" + name + "\" CASCADE");
  }
  db.execute("CREATE TABLE \"" + table + "\" " + body);
}

// The standard table of a case: a primary key and 100 rows, one duplicated value in `k`.
void standard_table(sluice::postgres::Connection& db, const std::string& table) {
  recreate(db, table, "(id int PRIMARY KEY, k int NOT NULL, v varchar(20))");
  db.execute("INSERT INTO \"" + table +
             "\" SELECT g, g % 50, 'v' || g FROM generate_series(1, 100) g");
}

struct BadInput {
  const char* what;
  std::string table_body{};          // the case's table (`bi_<n>`); the standard table when empty
  std::vector<std::string> setup{};  // statements run after the table is created
  std::string alter = "ALTER COLUMN v TYPE varchar(40)";
  std::string dsn{};  // the DSN given, when not the test server's
  std::map<std::string, std::string> env{};
  std::string table_option{};  // --table, when not the case's table
  int exit_code = 0;
  std::string reason{};
};

// The test server's DSN with `from` replaced by `to`.
std::string dsn_with(const std::string& from, const std::string& to) {
  std::string changed = dsn();
  changed.replace(changed.find(from), from.size(), to);
  return changed;
}

// The test server's DSN on another port.
std::string dsn_on_port(const std::string& port) {
  std::string changed = dsn();
  const std::size_t colon = changed.rfind(':');
  changed.replace(colon + 1, changed.find('/', colon) - colon - 1, port);
  return changed;
}

}  // namespace

TEST_CASE("bad input to sluice alter is refused in one line and changes nothing") {
  auto db = postgres_admin();
  db->execute(
      "DROP ROLE IF EXISTS bi_user; CREATE ROLE bi_user LOGIN SUPERUSER PASSWORD "
      "'Right-pw-1'");
  const std::vector<BadInput> cases = {
      {.what = "malformed DSN (port not a number)",
       .dsn = dsn_on_port("x"),
       .exit_code = 2,
       .reason = "port"},
      {.what = "malformed key=value DSN",
       .dsn = "host=127.0.0.1 port",
       .exit_code = 2,
       .reason = "invalid --dsn"},
      {.what = "password in the DSN",
       .dsn = dsn_with("postgres@", "postgres:Dsn-pw-3@"),
       .exit_code = 2,
       .reason = "PGPASSWORD"},
      {.what = "password in a key=value DSN",
       .dsn = "host=127.0.0.1 password=Dsn-pw-4 dbname=sluice_test",
       .exit_code = 2,
       .reason = "PGPASSWORD"},
      {.what = "wrong password",
       .dsn = dsn_with("postgres@", "bi_user@"),
       .env = {{"PGPASSWORD", "Wrong-pw-9"}},
       .exit_code = 3,
       .reason = "wrong password"},
      {.what = "unreachable host (nothing listens)",
       .dsn = dsn_on_port("1"),
       .exit_code = 3,
       .reason = "cannot connect"},
      {.what = "unknown host name",
       .dsn = dsn_with("127.0.0.1", "no-such-host.invalid"),
       .exit_code = 3,
       .reason = "cannot connect"},
      {.what = "unknown database",
       .dsn = dsn_with("/sluice_test", "/no_such_db"),
       .exit_code = 3,
       .reason = "database 'no_such_db' does not exist"},
      {.what = "unknown table",
       .table_option = "bi_no_such_table",
       .exit_code = 4,
       .reason = "does not exist"},
      {.what = "unknown schema",
       .table_option = "no_such_schema.t",
       .exit_code = 4,
       .reason = "does not exist"},
      {.what = "a second statement after the ALTER",
       .alter = "ADD COLUMN x int; DROP TABLE bi_11",
       .exit_code = 2,
       .reason = "second statement"},
      {.what = "a table rename",
       .alter = "RENAME TO bi_renamed",
       .exit_code = 2,
       .reason = "renames the table"},
      {.what = "a column rename",
       .alter = "RENAME COLUMN v TO w",
       .exit_code = 2,
       .reason = "expand-contract"},
      {.what = "dropping the primary key",
       .alter = "DROP CONSTRAINT bi_14_pkey",
       .exit_code = 5,
       .reason = "drops \"bi_14_pkey\""},
      {.what = "ADD UNIQUE on duplicated data",
       .alter = "ADD CONSTRAINT bi_15_k UNIQUE (k)",
       .exit_code = 5,
       .reason = "UNIQUE"},
      {.what = "a table without a usable key",
       .table_body = "(a int, b int)",
       .alter = "ALTER COLUMN b TYPE bigint",
       .exit_code = 5,
       .reason = "no primary key"},
      {.what = "a partitioned table",
       .table_body = "(id int PRIMARY KEY, k int NOT NULL, v varchar(20)) PARTITION BY HASH (id)",
       .setup = {"CREATE TABLE bi_17_p0 PARTITION OF bi_17 FOR VALUES WITH (MODULUS 1, REMAINDER "
                 "0)"},
       .exit_code = 5,
       .reason = "partitioned"},
      {.what = "a leftover shadow table from an earlier crash",
       .setup = {"CREATE TABLE _bi_18_new (LIKE bi_18)"},
       .exit_code = 5,
       .reason = "sluice cleanup"},
      {.what = "an unlogged table",
       .setup = {"ALTER TABLE bi_19 SET UNLOGGED"},
       .exit_code = 5,
       .reason = "is UNLOGGED"},
      {.what = "an ALTER naming a column the table lacks",
       .alter = "ALTER COLUMN nosuchcol TYPE int",
       .exit_code = 2,
       .reason = "the ALTER does not apply to \"public\".\"bi_20\" (column \"nosuchcol\""},
      {.what = "an ALTER adding a column the table has",
       .alter = "ADD COLUMN v int",
       .exit_code = 2,
       .reason = "already exists); fix --alter"},
  };
  int number = 0;
  for (const BadInput& input : cases) {
    ++number;
    const std::string table = "bi_" + std::to_string(number);
    CAPTURE(input.what);
    if (input.table_body.empty()) {
      standard_table(*db, table);
    } else {
      recreate(*db, table, input.table_body);
    }
    for (const std::string& statement : input.setup) {
      db->execute(statement);
    }
    const std::string before = table_state(*db, table);
    std::vector<std::string> args = {"alter",
                                     "--dsn",
                                     input.dsn.empty() ? dsn() : input.dsn,
                                     "--table",
                                     input.table_option.empty() ? table : input.table_option,
                                     "--alter",
                                     input.alter,
                                     "--execute"};
    check_refusal(run_sluice(args, input.env), input.exit_code, input.reason);
    CHECK(table_state(*db, table) == before);
  }
  db->execute("DROP ROLE bi_user");
}

TEST_CASE("a leftover slot of an earlier crash is refused and named") {
  auto db = postgres_admin();
  standard_table(*db, "bi_slot");
  const std::string slot =
      "sluice_alter_" + db->query_value("SELECT 'public.bi_slot'::regclass::oid::text").value();
  db->execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
  const std::string before = table_state(*db, "bi_slot");
  check_refusal(run_sluice({"alter", "--dsn", dsn(), "--table", "bi_slot", "--alter",
                            "ALTER COLUMN v TYPE varchar(40)", "--execute"}),
                5, slot);
  CHECK(table_state(*db, "bi_slot") == before);
  db->execute("SELECT pg_drop_replication_slot('" + slot + "')");
}

TEST_CASE("wal_level=replica and no free replication slot are refused before anything is made") {
  SUBCASE("wal_level=replica") {
    PrivateServer server(ServerKind::postgres, "wal_level = replica");
    sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
    standard_table(db, "bi_server");
    const std::string before = table_state(db, "bi_server");
    check_refusal(run_sluice({"alter", "--dsn", server.dsn(), "--table", "bi_server", "--alter",
                              "ALTER COLUMN v TYPE varchar(40)", "--execute"}),
                  5, "wal_level");
    CHECK(table_state(db, "bi_server") == before);
  }
  SUBCASE("every replication slot taken") {
    PrivateServer server(ServerKind::postgres, "max_replication_slots = 1");
    sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
    db.execute("SELECT pg_create_logical_replication_slot('someone_elses', 'pgoutput')");
    standard_table(db, "bi_server");
    const std::string before = table_state(db, "bi_server");
    check_refusal(run_sluice({"alter", "--dsn", server.dsn(), "--table", "bi_server", "--alter",
                              "ALTER COLUMN v TYPE varchar(40)", "--execute"}),
                  5, "max_replication_slots");
    CHECK(table_state(db, "bi_server") == before);
  }
}

TEST_CASE("a second sluice on the same table is refused while the first runs") {
  auto db = postgres_admin();
  standard_table(*db, "bi_twice");
  const std::filesystem::path throttle =
      std::filesystem::temp_directory_path() / ("sluice-bi-pg-twice-" + std::to_string(getpid()));
  std::ofstream(throttle).put('\n');
  SluiceProcess first({"alter", "--dsn", dsn(), "--table", "bi_twice", "--alter",
                       "ALTER COLUMN v TYPE varchar(40)", "--execute", "--force-rebuild", "--json",
                       "--throttle-flag-file", throttle.string(), "--status-interval", "0.2"});
  REQUIRE(first.wait_for("\"state\":\"paused\"", 60s));
  const std::string during = table_state(*db, "bi_twice");
  RunResult second = run_sluice({"alter", "--dsn", dsn(), "--table", "bi_twice", "--alter",
                                 "ALTER COLUMN v TYPE varchar(50)", "--execute"});
  check_refusal(second, 5, "is running");
  CHECK(table_state(*db, "bi_twice") == during);
  std::filesystem::remove(throttle);
  CHECK(first.wait(60s) == 0);
  CHECK(db->query_value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid "
                        "= 'bi_twice'::regclass AND attname = 'v'") == "character varying(40)");
}

TEST_CASE("a dry run tries the ALTER: one the server refuses exits 2 and records nothing") {
  auto db = postgres_admin();
  standard_table(*db, "bi_dry");
  const std::string before = table_state(*db, "bi_dry");
  check_refusal(run_sluice({"alter", "--dsn", dsn(), "--table", "bi_dry", "--alter",
                            "ALTER COLUMN nosuchcol TYPE int"}),
                2,
                "(column \"nosuchcol\" of relation \"_bi_dry_new\" does not exist); fix --alter");
  CHECK(table_state(*db, "bi_dry") == before);
  const RunResult good = run_sluice(
      {"alter", "--dsn", dsn(), "--table", "bi_dry", "--alter", "ALTER COLUMN v TYPE varchar(40)"});
  CHECK(good.exit_code == 0);
  CHECK(good.out.find("kept as \"public\".\"_bi_dry_old\"") != std::string::npos);
  const RunResult in_place =
      run_sluice({"alter", "--dsn", dsn(), "--table", "bi_dry", "--alter", "ADD COLUMN w int"});
  CHECK(in_place.exit_code == 0);
  CHECK(in_place.out.find("without an old table; if it cannot, the original table is kept") !=
        std::string::npos);
  CHECK(table_state(*db, "bi_dry") == before);
}

TEST_CASE("rows the new definition cannot hold are named in one sentence, exit 5") {
  auto db = postgres_admin();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ADD CONSTRAINT bi_k_small CHECK (k < 10)",
       "existing rows violate the new definition (new row for relation \"_bi_data_new\" violates "
       "check constraint \"bi_k_small\")"},
      {"ALTER COLUMN k TYPE smallint",
       "existing rows hold values the new definition cannot (smallint out of range)"},
  };
  int number = 0;
  for (const auto& [alter, reason] : cases) {
    CAPTURE(alter);
    // Two runs may start within the same second, which would give them the same default name.
    const std::string name = "bi-data-" + std::to_string(getpid()) + "-" + std::to_string(++number);
    standard_table(*db, "bi_data");
    db->execute("UPDATE bi_data SET k = k * 1000");
    const std::string definition = table_state(*db, "bi_data");
    // The run got as far as the copy, so its progress is logged before the one error line.
    const RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "bi_data", "--alter",
                                      alter, "--execute", "--force-rebuild", "--name", name});
    CHECK(run.exit_code == 5);
    CHECK(run.err.find("\nsluice: error: ") != std::string::npos);
    CHECK(run.err.find(reason) != std::string::npos);
    CHECK(run.err.find("running:") == std::string::npos);
    // The same definition and rows, no shadow, slot or publication; the run is recorded aborted.
    CHECK(table_state(*db, "bi_data").substr(0, definition.find("records")) ==
          definition.substr(0, definition.find("records")));
  }
}

TEST_CASE("a role without access to schema sluice is told the fix, exit 5, on alter and status") {
  auto db = postgres_admin();
  standard_table(*db, "bi_role");
  // The phase metadata exists (another test or run made it), owned by the administrator.
  REQUIRE(run_sluice({"status", "--dsn", dsn()}).exit_code == 0);
  db->execute(
      "CREATE SCHEMA IF NOT EXISTS sluice; DROP ROLE IF EXISTS bi_nosluice; CREATE ROLE "
      "bi_nosluice LOGIN REPLICATION PASSWORD 'Right-pw-2'; GRANT ALL ON SCHEMA public TO "
      "bi_nosluice; GRANT ALL ON bi_role TO bi_nosluice");
  const std::string role_dsn = dsn_with("postgres@", "bi_nosluice@");
  const std::map<std::string, std::string> env = {{"PGPASSWORD", "Right-pw-2"}};
  const std::string reason =
      "cannot keep sluice's phase metadata in schema \"sluice\" (permission denied for schema "
      "sluice); let the user create it";
  check_refusal(run_sluice({"status", "--dsn", role_dsn}, env), 5, reason);
  const std::string before = table_state(*db, "bi_role");
  check_refusal(run_sluice({"alter", "--dsn", role_dsn, "--table", "bi_role", "--alter",
                            "ALTER COLUMN v TYPE varchar(40)", "--execute"},
                           env),
                5, reason);
  CHECK(table_state(*db, "bi_role") == before);
  db->execute("DROP OWNED BY bi_nosluice; DROP ROLE bi_nosluice");
}

TEST_CASE("sluice run of a migration naming a missing column exits 4 in one sentence") {
  auto db = postgres_admin();
  standard_table(*db, "bi_run");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sluice-bi-run-pg-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "01-index.ini")
      << "table = bi_run\noperation = add-index\nindex-columns = custmer_id\n";
  const RunResult run = run_sluice({"run", "--dsn", dsn(), dir.string()});
  CHECK(run.exit_code == 4);
  CHECK(run.out.find("failed\tthe server does not know a name it was given (column "
                     "\"custmer_id\" does not exist); check the names") != std::string::npos);
  CHECK(run.out.find("running:") == std::string::npos);
  std::filesystem::remove_all(dir);
}

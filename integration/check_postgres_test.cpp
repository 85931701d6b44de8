// `sluice check` against a real PostgreSQL 15: every precondition flipped on a real table or
// server.
#include <doctest/doctest.h>

#include "integration/check_report.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::postgres);
}

void run(const std::string& sql) {
  postgres_admin()->execute(sql);
}

}  // namespace

TEST_CASE("a table with a primary key on a correctly configured server is ready") {
  run("DROP TABLE IF EXISTS chk_ready CASCADE; CREATE TABLE chk_ready (id int PRIMARY KEY, v "
      "text)");
  CheckReport report = run_check(dsn(), "chk_ready");
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 0);
  CHECK(report.json["ready"] == true);
  for (const char* name :
       {"table", "wal_level", "replication_slots", "wal_senders", "replication_role",
        "publication_privileges", "schema_privileges", "inheritance", "replica_identity",
        "foreign_keys", "dependent_views", "triggers"}) {
    CHECK_MESSAGE(report.status(name) == "pass", name);
  }
  CHECK(report.json["table"] == "\"public\".\"chk_ready\"");
  CHECK(run_check(dsn(), "public.chk_ready").exit_code == 0);
}

TEST_CASE("replica identity: none, a unique index to use, and a usable index identity") {
  run("DROP TABLE IF EXISTS chk_nokey; CREATE TABLE chk_nokey (a int, b text)");
  CHECK(run_check(dsn(), "chk_nokey").status("replica_identity") == "fail");

  run("DROP TABLE IF EXISTS chk_uidx; CREATE TABLE chk_uidx (a int NOT NULL, b text);"
      "CREATE UNIQUE INDEX chk_uidx_a ON chk_uidx (a)");
  CheckReport unset = run_check(dsn(), "chk_uidx");
  CHECK(unset.exit_code == 5);
  CHECK(unset.status("replica_identity") == "fail");
  CHECK(unset.message("replica_identity").find("REPLICA IDENTITY USING INDEX chk_uidx_a") !=
        std::string::npos);

  run("ALTER TABLE chk_uidx REPLICA IDENTITY USING INDEX chk_uidx_a");
  CHECK(run_check(dsn(), "chk_uidx").status("replica_identity") == "pass");

  run("DROP TABLE IF EXISTS chk_nullidx; CREATE TABLE chk_nullidx (a int, b text);"
      "CREATE UNIQUE INDEX ON chk_nullidx (a)");
  CHECK(run_check(dsn(), "chk_nullidx").status("replica_identity") == "fail");
}

TEST_CASE("partitioned, partition, unlogged tables are refused") {
  run("DROP TABLE IF EXISTS chk_parted CASCADE;"
      "CREATE TABLE chk_parted (id int PRIMARY KEY) PARTITION BY RANGE (id);"
      "CREATE TABLE chk_part1 PARTITION OF chk_parted FOR VALUES FROM (0) TO (100)");
  CHECK(run_check(dsn(), "chk_parted").status("table") == "fail");
  CheckReport partition = run_check(dsn(), "chk_part1");
  CHECK(partition.status("table") == "fail");
  CHECK(partition.message("table").find("partition") != std::string::npos);

  run("DROP TABLE IF EXISTS chk_unlogged; CREATE UNLOGGED TABLE chk_unlogged (id int PRIMARY KEY)");
  CheckReport unlogged = run_check(dsn(), "chk_unlogged");
  CHECK(unlogged.exit_code == 5);
  CHECK(unlogged.message("table").find("UNLOGGED") != std::string::npos);
}

TEST_CASE("inheritance in either direction is refused") {
  run("DROP TABLE IF EXISTS chk_kid, chk_base;"
      "CREATE TABLE chk_base (id int PRIMARY KEY);"
      "CREATE TABLE chk_kid (extra int) INHERITS (chk_base);"
      "ALTER TABLE chk_kid ADD PRIMARY KEY (id)");
  CHECK(run_check(dsn(), "chk_base").status("inheritance") == "fail");
  CheckReport kid = run_check(dsn(), "chk_kid");
  CHECK(kid.status("inheritance") == "fail");
  CHECK(kid.message("inheritance").find("inherits from chk_base") != std::string::npos);
}

TEST_CASE("foreign keys in both directions, dependent views and triggers are reported") {
  run("DROP TABLE IF EXISTS chk_child, chk_parent CASCADE;"
      "CREATE TABLE chk_parent (id int PRIMARY KEY);"
      "CREATE TABLE chk_child (id int PRIMARY KEY, parent_id int REFERENCES chk_parent (id));"
      "CREATE VIEW chk_parent_ids AS SELECT id FROM chk_parent;"
      "CREATE FUNCTION chk_noop() RETURNS trigger LANGUAGE plpgsql AS "
      "'BEGIN RETURN NEW; END';"
      "CREATE TRIGGER chk_parent_trg BEFORE INSERT ON chk_parent FOR EACH ROW EXECUTE "
      "FUNCTION chk_noop()");
  CheckReport parent = run_check(dsn(), "chk_parent");
  INFO(parent.json.dump(2));
  // sluice alter re-creates foreign keys and views at the swap: reported, not refused.
  CHECK(parent.status("foreign_keys") == "warn");
  CHECK(parent.message("foreign_keys").find("referenced by chk_child") != std::string::npos);
  CHECK(parent.status("dependent_views") == "warn");
  CHECK(parent.message("dependent_views").find("chk_parent_ids") != std::string::npos);
  CHECK(parent.status("triggers") == "warn");
  CheckReport child = run_check(dsn(), "chk_child");
  CHECK(child.status("foreign_keys") == "warn");
  CHECK(child.message("foreign_keys").find("references") != std::string::npos);
  CHECK(child.status("dependent_views") == "pass");
  run("CREATE MATERIALIZED VIEW chk_parent_mat AS SELECT id FROM chk_parent;"
      "ALTER TABLE chk_child ADD COLUMN self_id int REFERENCES chk_child (id)");
  CheckReport with_matview = run_check(dsn(), "chk_parent");
  CHECK(with_matview.status("dependent_views") == "fail");
  CheckReport self = run_check(dsn(), "chk_child");
  CHECK(self.status("foreign_keys") == "fail");
  CHECK(self.message("foreign_keys").find("referencing itself") != std::string::npos);
  run("DROP TABLE chk_child, chk_parent CASCADE; DROP FUNCTION chk_noop()");
}

TEST_CASE("quoted names with quotes, semicolons, spaces and unicode work and are not injected") {
  const std::string quoted = "\"Sales \"\"EU\"\"; DROP TABLE chk_ready; \xc3\xa4\xf0\x9f\x98\x80\"";
  run("DROP TABLE IF EXISTS " + quoted + "; CREATE TABLE " + quoted + " (id int PRIMARY KEY)");
  CheckReport report = run_check(dsn(), quoted);
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 0);
  CHECK(report.json["table"] == "\"public\"." + quoted);
  CHECK(run_check(dsn(), "chk_ready").exit_code == 0);
  run("DROP TABLE " + quoted);
}

TEST_CASE("a role without REPLICATION, ownership or CREATE is told what is missing") {
  run("DROP TABLE IF EXISTS chk_owned; CREATE TABLE chk_owned (id int PRIMARY KEY);"
      "DROP ROLE IF EXISTS chk_plain; CREATE ROLE chk_plain LOGIN PASSWORD 'Secret-pw-1';"
      "GRANT SELECT ON chk_owned TO chk_plain");
  std::string user_dsn = dsn();
  user_dsn.replace(user_dsn.find("postgres@"), 9, "chk_plain@");
  CheckReport report = run_check(user_dsn, "chk_owned", {{"PGPASSWORD", "Secret-pw-1"}});
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 5);
  CHECK(report.status("replication_role") == "fail");
  CHECK(report.message("replication_role").find("ALTER ROLE chk_plain REPLICATION") !=
        std::string::npos);
  CHECK(report.status("publication_privileges") == "fail");

  SUBCASE("a wrong password: one line, exit code 3, never echoed") {
    RunResult run_bad = run_sluice({"check", "--dsn", user_dsn, "--table", "chk_owned"},
                                   {{"PGPASSWORD", "Wrong-pw-9"}});
    CHECK(run_bad.exit_code == 3);
    CHECK(run_bad.err.find("wrong password") != std::string::npos);
    CHECK(run_bad.err.find("Wrong-pw-9") == std::string::npos);
  }
  SUBCASE("no password at all names the ways to give one") {
    RunResult run_none = run_sluice({"check", "--dsn", user_dsn, "--table", "chk_owned"},
                                    {{"PGPASSFILE", "/nonexistent"}});
    CHECK(run_none.exit_code == 3);
    CHECK(run_none.err.find("PGPASSWORD") != std::string::npos);
  }
  run("DROP TABLE chk_owned; DROP ROLE chk_plain");
}

TEST_CASE("the password can come from --password-file") {
  run("DROP ROLE IF EXISTS chk_filepw; CREATE ROLE chk_filepw LOGIN REPLICATION PASSWORD "
      "'File-pw-2'; DROP TABLE IF EXISTS chk_fileowned; CREATE TABLE chk_fileowned (id int "
      "PRIMARY KEY); ALTER TABLE chk_fileowned OWNER TO chk_filepw;"
      "GRANT CREATE ON DATABASE sluice_test TO chk_filepw; GRANT CREATE ON SCHEMA public TO "
      "chk_filepw");
  char path[] = "/tmp/sluice-pw-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "File-pw-2\n", 10) == 10);
  close(fd);
  std::string user_dsn = dsn();
  user_dsn.replace(user_dsn.find("postgres@"), 9, "chk_filepw@");
  RunResult run_ok =
      run_sluice({"check", "--dsn", user_dsn, "--table", "chk_fileowned", "--password-file", path});
  INFO(run_ok.out << run_ok.err);
  CHECK(run_ok.exit_code == 0);
  unlink(path);
  run("DROP TABLE chk_fileowned; REVOKE CREATE ON DATABASE sluice_test FROM chk_filepw; "
      "REVOKE CREATE ON SCHEMA public FROM chk_filepw; DROP ROLE chk_filepw");
}

TEST_CASE("bad input: one clear line and a documented exit code") {
  SUBCASE("unknown table") {
    RunResult r = run_sluice({"check", "--dsn", dsn(), "--table", "no_such_table"});
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("does not exist") != std::string::npos);
  }
  SUBCASE("unknown database") {
    std::string other = dsn();
    other.replace(other.rfind('/'), std::string::npos, "/no_such_db");
    RunResult r = run_sluice({"check", "--dsn", other, "--table", "t"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("database 'no_such_db' does not exist") != std::string::npos);
  }
  SUBCASE("refused connection") {
    RunResult r =
        run_sluice({"check", "--dsn", "postgres://postgres@127.0.0.1:1/x", "--table", "t"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("cannot connect") != std::string::npos);
  }
  SUBCASE("JSON mode still prints a JSON error object") {
    RunResult r = run_sluice({"check", "--dsn", dsn(), "--table", "no_such_table", "--json"});
    CHECK(r.exit_code == 4);
    CHECK(nlohmann::json::parse(r.out)["exit_code"] == 4);
  }
}

TEST_CASE("a server with wal_level=replica and no free slots or WAL senders fails each") {
  PrivateServer server(ServerKind::postgres,
                       "wal_level = replica;max_replication_slots = 0;max_wal_senders = 0");
  sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  db.execute("CREATE TABLE t (id int PRIMARY KEY)");
  CheckReport report = run_check(server.dsn(), "t");
  INFO(report.json.dump(2));
  CHECK(report.exit_code == 5);
  for (const char* name : {"wal_level", "replication_slots", "wal_senders"}) {
    CHECK_MESSAGE(report.status(name) == "fail", name);
  }
  CHECK(report.status("replica_identity") == "pass");
}

TEST_CASE("check and alter agree on every refusal the table, its leftovers or the grants cause") {
  const std::string copy = "ALTER COLUMN v TYPE varchar(40)";
  const auto standard = [](const std::string& table, const std::string& key = "id int") {
    run("DROP TABLE IF EXISTS " + table + " CASCADE; CREATE TABLE " + table + " (" + key +
        " PRIMARY KEY, v varchar(20)); INSERT INTO " + table +
        " SELECT g, 'v' || g FROM generate_series(1, 3) g");
  };
  SUBCASE("ready tables, integer, text or uuid keyed") {
    standard("agr_ready");
    require_agreement(dsn(), "agr_ready", copy);
    standard("agr_text", "id text");
    require_agreement(dsn(), "agr_text", copy);
    run("DROP TABLE IF EXISTS agr_uuid; CREATE TABLE agr_uuid (id uuid PRIMARY KEY DEFAULT "
        "gen_random_uuid(), v varchar(20)); INSERT INTO agr_uuid (v) VALUES ('a'), ('b')");
    require_agreement(dsn(), "agr_uuid", copy);
  }
  SUBCASE("no key, a key sluice cannot match rows by") {
    run("DROP TABLE IF EXISTS agr_nokey; CREATE TABLE agr_nokey (a int, v varchar(20))");
    require_agreement(dsn(), "agr_nokey", copy);
    standard("agr_float", "id double precision");
    require_agreement(dsn(), "agr_float", copy, {}, "key");
  }
  SUBCASE("partitioned, unlogged, inheriting") {
    run("DROP TABLE IF EXISTS agr_parts; CREATE TABLE agr_parts (id int PRIMARY KEY, v "
        "varchar(20)) PARTITION BY HASH (id); CREATE TABLE agr_parts_0 PARTITION OF agr_parts "
        "FOR VALUES WITH (MODULUS 1, REMAINDER 0)");
    require_agreement(dsn(), "agr_parts", copy);
    standard("agr_unlogged");
    run("ALTER TABLE agr_unlogged SET UNLOGGED");
    require_agreement(dsn(), "agr_unlogged", copy);
    standard("agr_parent");
    run("DROP TABLE IF EXISTS agr_child; CREATE TABLE agr_child () INHERITS (agr_parent)");
    require_agreement(dsn(), "agr_parent", copy);
  }
  SUBCASE("a leftover shadow table, a leftover slot") {
    standard("agr_left");
    run("DROP TABLE IF EXISTS _agr_left_new; CREATE TABLE _agr_left_new (LIKE agr_left)");
    require_agreement(dsn(), "agr_left", copy);
    run("DROP TABLE _agr_left_new");
    const std::string slot =
        "sluice_alter_" +
        postgres_admin()->query_value("SELECT 'public.agr_left'::regclass::oid::text").value();
    run("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
    require_agreement(dsn(), "agr_left", copy);
    run("SELECT pg_drop_replication_slot('" + slot + "')");
  }
  SUBCASE("a role without REPLICATION") {
    run("DROP TABLE IF EXISTS agr_grants; DROP ROLE IF EXISTS agr_role; CREATE ROLE agr_role "
        "LOGIN PASSWORD 'Secret-pw-3'; GRANT CREATE ON DATABASE sluice_test TO agr_role; "
        "CREATE SCHEMA IF NOT EXISTS sluice; GRANT USAGE, CREATE ON SCHEMA sluice TO agr_role; "
        "GRANT ALL ON ALL TABLES IN SCHEMA sluice TO agr_role; GRANT ALL ON ALL SEQUENCES IN "
        "SCHEMA sluice TO agr_role; GRANT CREATE ON SCHEMA public TO agr_role");
    standard("agr_grants");
    run("ALTER TABLE agr_grants OWNER TO agr_role");
    std::string user_dsn = dsn();
    user_dsn.replace(user_dsn.find("postgres@"), 9, "agr_role@");
    require_agreement(user_dsn, "agr_grants", copy, {{"PGPASSWORD", "Secret-pw-3"}});
    run("DROP TABLE agr_grants; REASSIGN OWNED BY agr_role TO postgres; DROP OWNED BY agr_role; "
        "DROP ROLE agr_role");
  }
}

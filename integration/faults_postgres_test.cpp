// Faults on a real PostgreSQL 15 while `sluice alter` copies under a concurrent writer: sluice's
// sessions terminated again and again (pg_terminate_backend, the walsender included) during the
// copy and after it, the server restarted, the server gone for longer than sluice waits for it;
// and resume: a run killed with SIGKILL during its copy copies again from a new snapshot, one
// killed after it keeps its slot and publication and `sluice alter --resume` reads on from its
// checkpoint. Each run ends equal to the source row for row (the writer's twin table).
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "integration/faults.h"
#include "integration/pg_table_writer.h"
#include "integration/row_diff.h"
#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

const std::string kAlter = "ALTER COLUMN k TYPE bigint, ALTER COLUMN name TYPE text";

bool exists(sluice::postgres::Connection& db, const std::string& table) {
  return db.query_value("SELECT to_regclass($1)::text", {"\"" + table + "\""}).has_value();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string sluice_objects(sluice::postgres::Connection& db) {
  return db
      .query_value(
          "SELECT string_agg(n, ', ') FROM (SELECT slot_name::text AS n FROM "
          "pg_replication_slots WHERE slot_name LIKE 'sluice_alter%' UNION ALL SELECT "
          "pubname::text FROM pg_publication WHERE pubname LIKE 'sluice_alter%') o")
      .value_or("");
}

// A server of this test binary's own: the tests count sluice's slots, which runs of other test
// binaries on the shared server would add to.
const std::string& own_dsn() {
  static PrivateServer server(ServerKind::postgres, "");
  return server.dsn();
}

std::unique_ptr<sluice::postgres::Connection> own_admin() {
  return std::make_unique<sluice::postgres::Connection>(sluice::parse_dsn(own_dsn()), std::nullopt);
}

void check_equal(sluice::postgres::Connection& db, const std::string& table) {
  const std::string twin = table + "_twin";
  const Rows migrated = pg_table_rows(db, table, twin, table);
  const Rows expected = pg_table_rows(db, twin, table, table);
  CHECK(migrated.size() == expected.size());
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  // Every index and constraint the shadow went without during its copy was built, whatever
  // moment the run was killed or lost its sessions at.
  CHECK(pg_table_shape(db, table) == pg_table_shape(db, twin));
}

// A postpone flag file that exists while this object lives: a run given it keeps applying and
// checkpointing after its verification but never cuts over, so a test can kill it after its
// copy however fast the copy was.
struct Postponed {
  std::string path;
  explicit Postponed(const std::string& name) : path("/tmp/sluice-faults-pg-postpone-" + name) {
    std::ofstream(path) << "";
  }
  ~Postponed() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("sluice's sessions terminated again and again mid-copy: it reconnects and finishes") {
  const std::string admin = own_dsn();
  const FaultUser user = fault_user(ServerKind::postgres, admin);
  // Inherited by the sluice child process; never on its command line.
  setenv("PGPASSWORD", user.password.c_str(), 1);
  auto db = own_admin();
  create_pg_table(*db, "ft_kill", "ft_kill_twin", 100000, false);
  forget_run(ServerKind::postgres, admin, "ft-kill");
  PgTableWriter writer(sluice::parse_dsn(admin), "ft_kill", "ft_kill_twin");
  writer.start();
  SluiceProcess run({"alter", "--dsn", user.dsn, "--table", "ft_kill", "--alter", kAlter,
                     "--execute", "--name", "ft-kill", "--chunk-time", "20"},
                    /*with_stderr=*/true);
  REQUIRE(wait_for_saved(admin, "ft-kill", kCopyStarted));
  int rounds_with_kills = 0;
  int exit_code = -1;
  // During the copy: each kill ends the snapshot's session, and the copy starts over.
  for (int round = 0; round < 4 && exit_code == -1; ++round) {
    if (kill_fault_sessions(ServerKind::postgres, admin) > 0) {
      ++rounds_with_kills;
    }
    exit_code = run.wait(std::chrono::milliseconds(250));
  }
  // After it: the applier's and the stream's sessions.
  const bool copied = wait_for_saved(admin, "ft-kill", kCopyDone);
  if (!copied) {
    run.wait(std::chrono::seconds(1));
  }
  INFO(run.out());
  REQUIRE(copied);
  for (int round = 0; round < 11 && exit_code == -1; ++round) {
    if (kill_fault_sessions(ServerKind::postgres, admin) > 0) {
      ++rounds_with_kills;
    }
    exit_code = run.wait(std::chrono::milliseconds(250));
  }
  if (exit_code == -1) {
    exit_code = run.wait(std::chrono::seconds(120));
  }
  unsetenv("PGPASSWORD");
  writer.stop();
  REQUIRE(exit_code == 0);
  CHECK(rounds_with_kills >= 3);
  MESSAGE(rounds_with_kills << " rounds of kills; the writer committed " << writer.transactions()
                            << " transactions");
  CHECK(contains(run.out(), "lost the connection during"));
  CHECK(contains(run.out(), "the copy's snapshot is gone"));
  CHECK(contains(run.out(), "the copy starts over"));
  CHECK(contains(run.out(), "reconnected the replication stream"));
  check_equal(*db, "ft_kill");
  CHECK_FALSE(exists(*db, "_ft_kill_new"));
  CHECK(sluice_objects(*db).empty());
  CHECK(run_phase(admin, "ft-kill") == "switched");
}

TEST_CASE("a PostgreSQL restart mid-copy: the migration continues once the server is back") {
  PrivateServer server(ServerKind::postgres, "");
  sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  create_pg_table(db, "ft_restart", "ft_restart_twin", 60000, false);
  PgTableWriter writer(sluice::parse_dsn(server.dsn()), "ft_restart", "ft_restart_twin");
  writer.start();
  SluiceProcess run({"alter", "--dsn", server.dsn(), "--table", "ft_restart", "--alter", kAlter,
                     "--execute", "--name", "ft-restart", "--chunk-time", "20"},
                    /*with_stderr=*/true);
  REQUIRE(wait_for_saved(server.dsn(), "ft-restart", kCopyStarted));
  server.restart();
  const int exit_code = run.wait(std::chrono::seconds(120));
  writer.stop();
  INFO(run.out());
  REQUIRE(exit_code == 0);
  CHECK(contains(run.out(), "lost the connection during"));
  CHECK(writer.reconnects() > 0);
  sluice::postgres::Connection after(sluice::parse_dsn(server.dsn()), std::nullopt);
  check_equal(after, "ft_restart");
  CHECK(sluice_objects(after).empty());
  CHECK(run_phase(server.dsn(), "ft-restart") == "switched");
}

TEST_CASE("PostgreSQL gone longer than --reconnect-timeout: a one-line error, then --resume") {
  PrivateServer server(ServerKind::postgres, "");
  {
    sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
    create_pg_table(db, "ft_down", "ft_down_twin", 60000, false);
  }
  PgTableWriter writer(sluice::parse_dsn(server.dsn()), "ft_down", "ft_down_twin");
  writer.start();
  SluiceProcess run(
      {"alter", "--dsn", server.dsn(), "--table", "ft_down", "--alter", kAlter, "--execute",
       "--name", "ft-down", "--chunk-time", "20", "--reconnect-timeout", "2"},
      /*with_stderr=*/true);
  REQUIRE(wait_for_saved(server.dsn(), "ft-down", kCopyStarted));
  server.restart(std::chrono::seconds(5));
  const int exit_code = run.wait(std::chrono::seconds(60));
  INFO(run.out());
  CHECK(exit_code == 3);
  CHECK(contains(run.out(), "sluice: error: lost the connection"));
  CHECK(contains(run.out(), "--resume ft-down"));
  sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  // Kept for the resume: the shadow table, the slot and the publication.
  CHECK(exists(db, "_ft_down_new"));
  CHECK_FALSE(sluice_objects(db).empty());
  CHECK(run_phase(server.dsn(), "ft-down") == "backfilling");
  expire_lease(ServerKind::postgres, server.dsn(), "ft-down");
  RunResult resumed = run_sluice({"alter", "--dsn", server.dsn(), "--resume", "ft-down"});
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  check_equal(db, "ft_down");
  CHECK_FALSE(exists(db, "_ft_down_new"));
  CHECK(sluice_objects(db).empty());
}

TEST_CASE("a PostgreSQL run killed mid-copy copies again from a new snapshot on --resume") {
  const std::string admin = own_dsn();
  auto db = own_admin();
  create_pg_table(*db, "ft_recopy", "ft_recopy_twin", 100000, false);
  forget_run(ServerKind::postgres, admin, "ft-recopy");
  PgTableWriter writer(sluice::parse_dsn(admin), "ft_recopy", "ft_recopy_twin");
  writer.start();
  {
    SluiceProcess run({"alter", "--dsn", admin, "--table", "ft_recopy", "--alter", kAlter,
                       "--execute", "--name", "ft-recopy", "--chunk-time", "20"});
    REQUIRE(wait_for_saved(admin, "ft-recopy", kCopyStarted));
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
  }
  CHECK(exists(*db, "_ft_recopy_new"));
  CHECK_FALSE(sluice_objects(*db).empty());
  // The lease has not expired, but its runner is gone from this host: --resume takes over at once.
  RunResult resumed = run_sluice({"alter", "--dsn", admin, "--resume", "ft-recopy"});
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(contains(resumed.err, "the killed run stopped during its copy, which starts over"));
  std::smatch copied;
  REQUIRE(std::regex_search(resumed.out, copied, std::regex("([0-9]+) rows copied")));
  CHECK(std::stoull(copied[1]) >= 100000 * 9 / 10);
  check_equal(*db, "ft_recopy");
  CHECK_FALSE(exists(*db, "_ft_recopy_new"));
  CHECK(sluice_objects(*db).empty());
  CHECK(run_phase(admin, "ft-recopy") == "switched");
}

TEST_CASE("a PostgreSQL run killed after its copy keeps its slot and resumes from its checkpoint") {
  const std::string admin = own_dsn();
  auto db = own_admin();
  create_pg_table(*db, "ft_resume", "ft_resume_twin", 100000, false);
  forget_run(ServerKind::postgres, admin, "ft-resume");
  PgTableWriter writer(sluice::parse_dsn(admin), "ft_resume", "ft_resume_twin");
  writer.start();
  const auto checkpoint_lsn = [&] {
    const std::string saved =
        db->query_value("SELECT checkpoint FROM sluice.migrations WHERE name = 'ft-resume'")
            .value_or("");
    return nlohmann::json::parse(saved)["position"]["lsn"].get<std::uint64_t>();
  };
  {
    const Postponed postponed("ft-resume");
    SluiceProcess run({"alter", "--dsn", admin, "--table", "ft_resume", "--alter", kAlter,
                       "--execute", "--name", "ft-resume", "--chunk-time", "20",
                       "--status-interval", "0.2", "--postpone-cutover-flag-file", postponed.path},
                      /*with_stderr=*/true);
    // Held by the postpone file: verified, every index built (verification builds the
    // non-unique ones), applying changes.
    REQUIRE(run.wait_for(" - waiting to cut over", std::chrono::seconds(120)));
    for (int i = 0; i < 200 && checkpoint_lsn() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
  }
  CHECK(exists(*db, "_ft_resume_new"));
  CHECK_FALSE(sluice_objects(*db).empty());
  // The run was killed while it waited to cut over, with every index built; one dropped here
  // stands for an index a run killed sooner had not built yet, which the resumed run builds.
  const std::string unbuilt =
      db->query_value(
            "SELECT min(indexrelid::regclass::text) FROM pg_index WHERE indrelid = "
            "'_ft_resume_new'::regclass AND NOT indisunique")
          .value_or("");
  REQUIRE_FALSE(unbuilt.empty());
  db->execute("DROP INDEX " + unbuilt);
  // The slot never confirms past the checkpoint, so every change after it is still in the slot.
  const std::uint64_t saved_lsn = checkpoint_lsn();
  REQUIRE(saved_lsn > 0);
  const std::string confirmed =
      db->query_value(
            "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::text FROM "
            "pg_replication_slots WHERE slot_name::text = 'sluice_alter_' || "
            "'ft_resume'::regclass::oid::text")
          .value_or("");
  REQUIRE_FALSE(confirmed.empty());
  // The checkpoint names a transaction by its commit record, the slot confirms through the end of
  // that record, a few dozen bytes further.
  CHECK(std::stoull(confirmed) <= saved_lsn + 1024);
  // The lease has not expired, but its runner is gone from this host: --resume takes over at once.
  RunResult resumed = run_sluice({"alter", "--dsn", admin, "--resume", "ft-resume"});
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(contains(resumed.err, "resuming after the copy"));
  std::smatch copied;
  REQUIRE(std::regex_search(resumed.out, copied, std::regex("([0-9]+) rows copied")));
  CHECK(std::stoull(copied[1]) == 0);
  check_equal(*db, "ft_resume");
  CHECK_FALSE(exists(*db, "_ft_resume_new"));
  CHECK(sluice_objects(*db).empty());
  // The index the killed run had not built yet is there, under its original name.
  CHECK(db->query_value("SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY "
                        "indexrelid::regclass::text) FROM "
                        "pg_index WHERE indrelid = 'ft_resume'::regclass AND NOT indisunique") ==
        "ft_resume_k,ft_resume_pa");
  CHECK(run_phase(admin, "ft-resume") == "switched");
}

TEST_CASE("a PostgreSQL run whose slot is gone cannot resume; it says so") {
  const std::string admin = own_dsn();
  auto db = own_admin();
  create_pg_table(*db, "ft_gone", "ft_gone_twin", 100000, false);
  forget_run(ServerKind::postgres, admin, "ft-gone");
  {
    const Postponed postponed("ft-gone");
    SluiceProcess run({"alter", "--dsn", admin, "--table", "ft_gone", "--alter", kAlter,
                       "--execute", "--name", "ft-gone", "--chunk-time", "20",
                       "--postpone-cutover-flag-file", postponed.path});
    // Killed after its copy: a run killed during it copies again and needs no slot.
    REQUIRE(wait_for_saved(admin, "ft-gone", kCopyDone));
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
  }
  const std::string slot =
      db->query_value(
            "SELECT slot_name::text FROM pg_replication_slots WHERE slot_name LIKE "
            "'sluice_alter%' AND slot_name::text = 'sluice_alter_' || "
            "'ft_gone'::regclass::oid::text")
          .value_or("");
  REQUIRE_FALSE(slot.empty());
  // The walsender of the killed run may hold the slot for a moment.
  for (int i = 0; i < 100; ++i) {
    try {
      db->query("SELECT pg_drop_replication_slot($1)", {slot});
      break;
    } catch (const sluice::ServerError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  expire_lease(ServerKind::postgres, admin, "ft-gone");
  RunResult resumed = run_sluice({"alter", "--dsn", admin, "--resume", "ft-gone"});
  INFO(resumed.out << resumed.err);
  CHECK(resumed.exit_code == 6);
  CHECK(contains(resumed.err, "is gone"));
  CHECK(contains(resumed.err, "sluice cleanup"));
  check_equal(*db, "ft_gone");
  RunResult cleanup = run_sluice({"cleanup", "--dsn", admin, "--table", "ft_gone"});
  CHECK(cleanup.exit_code == 0);
  CHECK_FALSE(exists(*db, "_ft_gone_new"));
  CHECK(sluice_objects(*db).empty());
}

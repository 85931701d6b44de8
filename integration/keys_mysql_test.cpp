// Every key InnoDB accepts, migrated on a real MariaDB while an application writes: character
// keys in case- and accent-insensitive collations (keys respelled to a collation-equal form,
// rows found through another spelling), latin1, BINARY(16), DATETIME(6)+INT, a UNIQUE NOT NULL
// key without a primary key, a sparse integer key, and a run killed with SIGKILL and resumed.
// Each ends with a full comparison, key bytes included, with a twin written in the same
// transactions (docs/architecture.md §3).
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <thread>

#include "integration/key_writer.h"
#include "integration/support.h"
#include "src/phase_store.h"

using sluice::ServerKind;
using namespace sluice::test;

namespace {

std::string dsn() {
  return server_dsn(ServerKind::mysql);
}

// Key n spelled four collation-equal ways under a _ci collation: 'e', 'E', 'é', 'É' in front,
// so byte order and collation order disagree; a letter and the number make keys distinct.
KeyKind character_key(const std::string& type, const std::string& key = "PRIMARY KEY (k)") {
  KeyKind kind;
  kind.columns = "k " + type + " NOT NULL";
  kind.key = key;
  kind.key_columns = {"k"};
  kind.values = [](const std::string& n, const std::string& spelling) {
    return std::vector<std::string>{"CONCAT(ELT(1 + (" + spelling +
                                    "), 'e', 'E', '\xc3\xa9', '\xc3\x89'), ELT(1 + (" + n +
                                    ") % 3, 'a', 'B', '\xc3\xa7'), '-', " + n + ")"};
  };
  kind.spellings = 4;
  return kind;
}

KeyKind single_key(const std::string& type, const std::string& expression) {
  KeyKind kind;
  kind.columns = "k " + type + " NOT NULL";
  kind.key = "PRIMARY KEY (k)";
  kind.key_columns = {"k"};
  kind.values = [expression](const std::string& n, const std::string&) {
    std::string value = expression;
    for (std::size_t at = value.find("@"); at != std::string::npos; at = value.find("@")) {
      value.replace(at, 1, "(" + n + ")");
    }
    return std::vector<std::string>{value};
  };
  return kind;
}

// Migrates `table` (`rows` rows of `kind`) with a change that copies, under a KeyWriter, and
// compares it with its twin; returns how long sluice took. `env` is added to sluice's
// environment; `log`, when given, receives its standard error.
std::chrono::milliseconds migrate_keyed(const std::string& table, const KeyKind& kind, int rows,
                                        const std::map<std::string, std::string>& env = {},
                                        std::string* log = nullptr) {
  auto db = mysql_admin();
  const std::string twin = table + "_twin";
  create_keyed_table(*db, table, twin, kind, rows);
  KeyWriter writer(sluice::parse_dsn(dsn()), table, twin, kind);
  writer.start(rows);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto started = std::chrono::steady_clock::now();
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", table, "--alter",
                              "MODIFY v BIGINT NOT NULL", "--execute", "--chunk-time", "20"},
                             env);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.stop();
  INFO("sluice stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  if (log) {
    *log = run.err;
  }
  CHECK(writer.transactions() > 0);
  MESSAGE(table << ": the writer committed " << writer.transactions()
                << " transactions; sluice took " << took.count() << " ms");
  CHECK(db->query_value("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                        "DATABASE() AND TABLE_NAME = " +
                        db->quote_literal(table) + " AND COLUMN_NAME = 'v'") == "bigint");
  const Rows migrated = keyed_rows(*db, table, kind);
  const Rows expected = keyed_rows(*db, twin, kind);
  CHECK(migrated.size() == expected.size());
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
  return took;
}

}  // namespace

TEST_CASE("a utf8mb4_general_ci VARCHAR key: respelled keys, rows found through other spellings") {
  migrate_keyed("key_general",
                character_key("VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
                6000);
}

TEST_CASE("a utf8mb4_unicode_ci VARCHAR key") {
  migrate_keyed("key_unicode",
                character_key("VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
                6000);
}

TEST_CASE("a latin1 VARCHAR key") {
  migrate_keyed("key_latin1", character_key("VARCHAR(40) CHARACTER SET latin1"), 6000);
}

TEST_CASE("a BINARY(16) key") {
  migrate_keyed("key_binary", single_key("BINARY(16)", "UNHEX(MD5(@))"), 6000);
}

TEST_CASE("a DATETIME(6) + INT composite key") {
  KeyKind kind;
  kind.columns = "d DATETIME(6) NOT NULL, i INT NOT NULL";
  kind.key = "PRIMARY KEY (d, i)";
  kind.key_columns = {"d", "i"};
  kind.values = [](const std::string& n, const std::string&) {
    return std::vector<std::string>{
        "TIMESTAMP'2024-01-01 00:00:00' + INTERVAL (" + n + ") * 1234567 MICROSECOND",
        "(" + n + ") % 7"};
  };
  migrate_keyed("key_datetime", kind, 6000);
}

TEST_CASE("a UNIQUE NOT NULL CHAR key on a table without a primary key") {
  migrate_keyed("key_unique",
                character_key("CHAR(24) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                              "UNIQUE KEY uk (k)"),
                6000);
}

TEST_CASE("a TIME(3), DECIMAL and ENUM composite key") {
  KeyKind kind;
  kind.columns = "t TIME(3) NOT NULL, m DECIMAL(12,2) NOT NULL, e ENUM('x','y','z') NOT NULL";
  kind.key = "PRIMARY KEY (t, m, e)";
  kind.key_columns = {"t", "m", "e"};
  kind.values = [](const std::string& n, const std::string&) {
    return std::vector<std::string>{"SEC_TO_TIME(((" + n + ") % 3000000) / 1000 - 1500)",
                                    "(" + n + ") / 100 - 30",
                                    "ELT(1 + (" + n + ") % 3, 'x', 'y', 'z')"};
  };
  migrate_keyed("key_mixed", kind, 6000);
}

TEST_CASE("a character-keyed table with several secondary indexes") {
  migrate_keyed("key_indexed",
                character_key("VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                              "PRIMARY KEY (k), KEY by_v (v), KEY by_note (note, k), KEY by_both "
                              "(v, code)"),
                6000);
}

TEST_CASE("changed keys past the in-memory limit go to a temporary file and none is lost") {
  // A limit of one key sends every changed key through the file: respellings, key changes,
  // deletes and unique swaps all come back from disk and are re-synchronised.
  std::string log;
  migrate_keyed("key_spill",
                character_key("VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"), 6000,
                {{"SLUICE_APPLY_KEYS_IN_MEMORY", "1"}}, &log);
  CHECK(log.find("the rest go to a temporary file") != std::string::npos);
}

TEST_CASE("a sparse integer key: ids near 2^62 among dense small ones") {
  const std::chrono::milliseconds dense =
      migrate_keyed("key_dense", single_key("BIGINT", "@"), 20000);
  const std::chrono::milliseconds sparse = migrate_keyed(
      "key_sparse", single_key("BIGINT", "IF(@ % 997 = 0, @ + 4611686018427387904, @)"), 20000);
  // Reported, not asserted: timings on a shared machine are not a test's business.
  MESSAGE("dense " << dense.count() << " ms, sparse " << sparse.count() << " ms");
}

TEST_CASE("the server's in-place change and sluice check do not depend on the key") {
  auto db = mysql_admin();
  const KeyKind kind =
      character_key("VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci");
  create_keyed_table(*db, "key_instant", "key_instant_twin", kind, 100);
  RunResult check = run_sluice({"check", "--dsn", dsn(), "--table", "key_instant"});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  RunResult run = run_sluice({"alter", "--dsn", dsn(), "--table", "key_instant", "--alter",
                              "ADD COLUMN extra INT NOT NULL DEFAULT 1", "--execute"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("applied the change in place") != std::string::npos);
  CHECK(db->query_value("SELECT COUNT(*) FROM key_instant WHERE extra = 1") == "100");
}

TEST_CASE("a character-keyed run killed with SIGKILL mid-copy resumes and ends equal") {
  const std::string name = "key-resume-1";
  auto db = mysql_admin();
  const KeyKind kind =
      character_key("VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci");
  create_keyed_table(*db, "key_resume", "key_resume_twin", kind, 150000);
  phase_store(sluice::parse_dsn(dsn()), std::nullopt)->ensure_schema();
  db->execute("DELETE FROM sluice_migrations WHERE name = '" + name + "'");
  KeyWriter writer(sluice::parse_dsn(dsn()), "key_resume", "key_resume_twin", kind);
  writer.start(150000);
  {
    SluiceProcess run({"alter", "--dsn", dsn(), "--table", "key_resume", "--alter",
                       "MODIFY v BIGINT NOT NULL", "--execute", "--name", name, "--chunk-time",
                       "20"});
    auto store = phase_store(sluice::parse_dsn(dsn()), std::nullopt);
    bool checkpointed = false;
    for (int i = 0; i < 600 && !checkpointed; ++i) {
      const std::optional<sluice::MigrationRecord> record = store->find(name);
      checkpointed = record && record->checkpoint.find("\"watermark\":[") != std::string::npos;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(checkpointed);
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
  }
  RunResult resumed = run_sluice({"alter", "--dsn", dsn(), "--resume", name});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.stop();
  INFO(resumed.out << resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("resuming: the copy goes on after key") != std::string::npos);
  const Rows migrated = keyed_rows(*db, "key_resume", kind);
  const Rows expected = keyed_rows(*db, "key_resume_twin", kind);
  CHECK(migrated.size() == expected.size());
  CHECK_MESSAGE(migrated == expected, first_difference(migrated, expected));
}

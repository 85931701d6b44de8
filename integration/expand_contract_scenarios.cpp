#include "integration/expand_contract_scenarios.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/app_simulator.h"
#include "integration/expand_contract_support.h"
#include "integration/row_diff.h"
#include "integration/support.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> columns_of(SqlSession& db, const std::string& table) {
  std::vector<std::string> columns;
  for (const auto& row :
       db.query("SELECT column_name, is_nullable FROM information_schema.columns WHERE "
                "table_name = " +
                db.literal(table) + " ORDER BY ordinal_position")) {
    columns.push_back(row[0].value_or("") + ":" + row[1].value_or(""));
  }
  return columns;
}

// The migrated column holds what the application last wrote, row for row, and nothing else.
void check_column(SqlSession& db, const std::string& table, const std::string& column,
                  const std::map<std::string, std::string>& expected) {
  std::map<std::string, std::string> actual;
  for (const auto& row : db.query("SELECT id, " + db.quote(column) + " FROM " + table)) {
    actual[row[0].value_or("")] = row[1].value_or("<NULL>");
  }
  CHECK(actual.size() == expected.size());
  std::size_t differing = 0;
  for (const auto& [id, value] : expected) {
    const auto found = actual.find(id);
    if (found == actual.end() || found->second != value) {
      if (++differing <= 5) {
        INFO("row " << id << ": expected " << value << ", table holds "
                    << (found == actual.end() ? "no row" : found->second));
        CHECK(false);
      }
    }
  }
  CHECK(differing == 0);
}

}  // namespace

std::string phase_of(SqlSession& db, const Scenario& scenario, const std::string& name) {
  return db.value("SELECT phase FROM " + scenario.migrations + " WHERE name = " + db.literal(name));
}

RunResult sluice(const Scenario& scenario, std::vector<std::string> args) {
  args.insert(args.begin() + 1, {"--dsn", scenario.dsn});
  return run_sluice(args);
}

void check_ok(const RunResult& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == 0);
}

void check_refused(const RunResult& run, int code, const std::string& text) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == code);
  CHECK(run.err.find(text) != std::string::npos);
}

std::unique_ptr<SqlSession> fresh_table(const Scenario& scenario, const std::string& table,
                                        const std::vector<std::string>& migrations) {
  std::unique_ptr<SqlSession> db = open_session(parse_dsn(scenario.dsn));
  db->execute("DROP TABLE IF EXISTS " + table);
  db->execute("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, email " + scenario.text_type +
              " NOT NULL, amount " + scenario.text_type + ", note " + scenario.text_type + ")");
  for (int first = 1; first <= kPreloadedRows; first += 500) {
    std::string values;
    for (int id = first; id < first + 500; ++id) {
      values += (values.empty() ? "(" : ", (") + std::to_string(id) + ", 'user-" +
                std::to_string(id) + "@ex.com', '" + std::to_string(id) + ".5', NULL)";
    }
    db->execute("INSERT INTO " + table + " (id, email, amount, note) VALUES " + values);
  }
  for (const std::string& name : migrations) {
    try {
      db->execute("DELETE FROM " + scenario.migrations + " WHERE name = " + db->literal(name));
    } catch (const std::exception&) {
      // No phase metadata yet: nothing to forget.
    }
  }
  return db;
}

void rename_through_every_phase(const Scenario& scenario) {
  const std::string table = "ec_rename";
  const std::string name = "ec-rename-email";
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  MigrationDir dir;
  const std::string file = dir.write("rename.ini", "name = " + name + "\ntable = " + table +
                                                       "\noperation = rename-column\n"
                                                       "column = email\nnew-column = mail\n"
                                                       "grace = 4s\nold-clients = " +
                                                       scenario.old_clients + "\n");
  const std::vector<std::string> before = columns_of(*db, table);

  const RunResult plan = sluice(scenario, {"plan", file});
  check_ok(plan);
  CHECK(plan.out.find("ADD COLUMN") != std::string::npos);
  CHECK(plan.out.find("DROP COLUMN") != std::string::npos);
  CHECK(columns_of(*db, table) == before);  // plan changes nothing

  AppSimulator app(parse_dsn(scenario.dsn), table, "email", "mail", kPreloadedRows + 1);
  app.adopt_existing_rows();
  app.start(AppSimulator::Release::v1);
  std::this_thread::sleep_for(200ms);

  check_ok(sluice(scenario, {"expand", file}));
  CHECK(phase_of(*db, scenario, name) == "expanding");
  check_ok(sluice(scenario, {"expand", file}));  // a re-run changes nothing
  std::this_thread::sleep_for(200ms);            // v1 still writes `email` only
  check_refused(sluice(scenario, {"switch", name}), 5, "not backfilled yet");

  app.deploy(AppSimulator::Release::v2);
  check_ok(sluice(scenario, {"backfill", name}));
  const RunResult verified = sluice(scenario, {"verify", name});
  check_ok(verified);
  CHECK(verified.out.find("every row agrees") != std::string::npos);
  check_refused(sluice(scenario, {"contract", name}), 5, "needs migration");

  check_ok(sluice(scenario, {"switch", name}));
  CHECK(phase_of(*db, scenario, name) == "switched");
  app.deploy(AppSimulator::Release::v3);
  check_refused(sluice(scenario, {"contract", name}), 5, "grace period");
  std::unique_ptr<SqlSession> old_client = scenario.connect_old_client();
  std::this_thread::sleep_for(4s);
  check_refused(sluice(scenario, {"contract", name}), 5, "still connected");
  old_client.reset();
  std::this_thread::sleep_for(300ms);

  // What contract drops, as it is now: the archive must give exactly this back.
  std::map<std::string, std::string> email_at_contract;
  for (const auto& row : db->query("SELECT id, email FROM " + table)) {
    email_at_contract[row[0].value_or("")] = row[1].value_or("<NULL>");
  }
  const std::string archive = dir.path() + "/email.zst";
  check_ok(sluice(scenario, {"contract", name, "--archive", archive}));
  CHECK(phase_of(*db, scenario, name) == "contracted");
  check_ok(sluice(scenario, {"contract", name}));  // a re-run is a no-op
  std::this_thread::sleep_for(300ms);
  app.stop();
  CHECK(app.writes() > 100);

  std::vector<std::string> after = columns_of(*db, table);
  CHECK(std::find(after.begin(), after.end(), "mail:NO") != after.end());
  CHECK(std::none_of(after.begin(), after.end(),
                     [](const std::string& column) { return column.rfind("email:", 0) == 0; }));
  check_column(*db, table, "mail", app.expected());

  const RunResult status = sluice(scenario, {"status", name, "--json"});
  check_ok(status);
  for (const char* phase : {"expanding", "backfilling", "switched", "contracted"}) {
    CHECK(status.out.find(phase) != std::string::npos);
  }

  check_ok(sluice(scenario, {"restore", archive}));
  std::map<std::string, std::string> restored;
  for (const auto& row : db->query("SELECT id, email FROM " + table)) {
    if (email_at_contract.count(row[0].value_or("")) != 0) {
      restored[row[0].value_or("")] = row[1].value_or("<NULL>");
    }
  }
  CHECK(restored == email_at_contract);
}

void abort_before_switch(const Scenario& scenario) {
  const std::string table = "ec_abort";
  const std::string name = "ec-abort-amount";
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  MigrationDir dir;
  const std::string type = scenario.text_type == "text" ? "numeric(12,2)" : "decimal(12,2)";
  const std::string file =
      dir.write("amount.json", "{\"name\": \"" + name + "\", \"table\": \"" + table +
                                   "\", \"operation\": \"change-type\", \"column\": \"amount\", "
                                   "\"type\": \"" +
                                   type + "\"}");
  const std::vector<std::string> before = columns_of(*db, table);
  check_ok(sluice(scenario, {"expand", file}));
  check_ok(sluice(scenario, {"backfill", name}));
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE amount_new IS NULL") == "0");
  check_ok(sluice(scenario, {"abort", name}));
  CHECK(columns_of(*db, table) == before);
  CHECK(phase_of(*db, scenario, name) == "aborted");
  check_refused(sluice(scenario, {"switch", name}), 5, "aborted");
  check_refused(sluice(scenario, {"backfill", "ec-no-such-migration"}), 4, "no migration named");
}

void runners_and_resumed_backfill(const Scenario& scenario) {
  const std::string table = "ec_runners";
  const std::string name = "ec-runners-note";
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  MigrationDir dir;
  const std::string file = dir.write(
      "note.ini", "name = " + name + "\ntable = " + table +
                      "\noperation = add-column\ncolumn = note2\ntype = " + scenario.text_type +
                      "\nbackfill = " +
                      (scenario.text_type == "text" ? "'n-' || id" : "CONCAT('n-', id)") + "\n");
  check_ok(sluice(scenario, {"expand", file}));
  {
    // Small, slow batches that stop (throttled) once a third of the rows are filled: the
    // runner holds its lease while the second one starts, then dies mid-way.
    const std::string filled_enough =
        "SELECT COUNT(*) > 1000 FROM " + table + " WHERE note2 IS NOT NULL";
    SluiceProcess first({"backfill", "--dsn", scenario.dsn, name, "--chunk-size", "10",
                         "--nice-ratio", "4", "--throttle-query", filled_enough});
    for (int i = 0; i < 200 && db->value(filled_enough) != "1" && db->value(filled_enough) != "t";
         ++i) {
      std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(1500ms);
    check_refused(sluice(scenario, {"backfill", name}), 5, "being driven by");
    CHECK(first.stop(SIGKILL) == 128 + SIGKILL);
  }
  const std::string checkpoint = db->value("SELECT checkpoint FROM " + scenario.migrations +
                                           " WHERE name = " + db->literal(name));
  CHECK(checkpoint.find("\"after\"") != std::string::npos);
  const std::string filled =
      db->value("SELECT COUNT(*) FROM " + table + " WHERE note2 IS NOT NULL");
  CHECK(filled != "0");
  CHECK(filled != std::to_string(kPreloadedRows));
  // The killed runner's lease would expire within 30 s; expire it now.
  db->execute("UPDATE " + scenario.migrations +
              " SET lease_until = NULL WHERE name = " + db->literal(name));
  const RunResult resumed = sluice(scenario, {"backfill", name});
  check_ok(resumed);
  CHECK(resumed.err.find("continues after key") != std::string::npos);
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE note2 IS NULL") == "0");
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE note2 <> " +
                  (scenario.text_type == "text" ? "'n-' || id" : "CONCAT('n-', id)")) == "0");
  check_ok(sluice(scenario, {"switch", name}));
}

void nightly_run(const Scenario& scenario) {
  const std::string table = "ec_nightly";
  const std::vector<std::string> names = {"ec-nightly-1-rename", "ec-nightly-2-amount",
                                          "ec-nightly-3-note"};
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, names);
  MigrationDir dir;
  const std::string type = scenario.text_type == "text" ? "numeric(12,2)" : "decimal(12,2)";
  // Every client that is not of the old release writes both columns.
  dir.write("001-rename.ini", "name = " + names[0] + "\ntable = " + table +
                                  "\noperation = rename-column\ncolumn = email\n"
                                  "new-column = mail\ngrace = 3s\ndual-write-clients = NOT (" +
                                  scenario.old_clients + ")\n");
  dir.write("002-amount.json", "{\"name\": \"" + names[1] + "\", \"table\": \"" + table +
                                   "\", \"operation\": \"change-type\", \"column\": \"amount\", "
                                   "\"type\": \"" +
                                   type +
                                   "\", \"new-column\": \"amount_num\", \"switch-after\": \"2s\"}");
  // A file that says nothing about the release: run never switches it.
  dir.write("003-note.ini",
            "name = " + names[2] + "\ntable = " + table +
                "\noperation = rename-column\ncolumn = note\nnew-column = remark\n");
  dir.write("README.txt", "not a migration");
  const std::string log = dir.path() + "/nightly.log";

  std::unique_ptr<SqlSession> old_client = scenario.connect_old_client();
  const RunResult first = sluice(scenario, {"run", dir.path(), "--log-file", log});
  check_ok(first);
  // Verification passes (the backfill just filled a quiet table), yet nothing switches: an old
  // client is connected, the soak has not passed, the third file names no release.
  for (const std::string& name : names) {
    CHECK(phase_of(*db, scenario, name) == "backfilling");
  }
  CHECK(first.out.find("not of the dual-writing release") != std::string::npos);
  CHECK(first.out.find("switch-after") != std::string::npos);
  CHECK(first.out.find("switching needs the release that writes both") != std::string::npos);
  old_client.reset();
  std::this_thread::sleep_for(300ms);

  check_ok(sluice(scenario, {"run", dir.path(), "--log-file", log}));
  CHECK(phase_of(*db, scenario, names[0]) == "switched");  // its grace period holds it
  const RunResult again = sluice(scenario, {"run", dir.path(), "--log-file", log});
  check_ok(again);
  CHECK(phase_of(*db, scenario, names[0]) == "switched");  // never past a grace period
  CHECK(again.out.find("waiting") != std::string::npos);

  std::this_thread::sleep_for(3500ms);
  check_ok(sluice(scenario, {"run", dir.path(), "--log-file", log}));
  CHECK(phase_of(*db, scenario, names[0]) == "contracted");
  CHECK(phase_of(*db, scenario, names[1]) == "contracted");
  CHECK(phase_of(*db, scenario, names[2]) == "backfilling");
  const std::vector<std::string> columns = columns_of(*db, table);
  CHECK(columns ==
        std::vector<std::string>{"id:NO", "note:YES", "mail:NO", "amount_num:YES", "remark:YES"});
  CHECK(db->value("SELECT COUNT(*) FROM " + table +
                  " WHERE mail <> CONCAT('user-', id, '@ex.com')") == "0");
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE amount_num <> id + 0.5") == "0");
  // The operator deploys the release and switches the third by hand.
  check_ok(sluice(scenario, {"switch", names[2]}));
  std::ifstream in(log);
  const std::string logged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(logged.find("run summary") != std::string::npos);
}

void other_operations(const Scenario& scenario) {
  const std::string table = "ec_operations";
  const std::vector<std::string> names = {"ec-op-not-null", "ec-op-drop", "ec-op-index",
                                          "ec-op-rebuild"};
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, names);
  const bool postgres = scenario.text_type == "text";
  MigrationDir dir;
  const std::vector<std::string> files = {
      dir.write("1.ini", "name = " + names[0] + "\ntable = " + table +
                             "\noperation = add-not-null\ncolumn = note\nbackfill = 'none'\n"),
      dir.write("2.ini", "name = " + names[1] + "\ntable = " + table +
                             "\noperation = drop-column\ncolumn = amount\n"),
      dir.write("3.ini", "name = " + names[2] + "\ntable = " + table +
                             "\noperation = add-index\nindex-columns = email, id\n"
                             "index-name = ec_by_email\nunique = true\n"),
      dir.write(
          "4.ini",
          "name = " + names[3] + "\ntable = " + table + "\noperation = rebuild\nalter = " +
              (postgres ? "ALTER COLUMN id TYPE numeric(20)" : "MODIFY id DECIMAL(20) NOT NULL") +
              "\n")};
  for (std::size_t i = 0; i < files.size(); ++i) {
    INFO("migration " << names[i]);
    check_ok(sluice(scenario, {"expand", files[i]}));
    check_ok(sluice(scenario, {"backfill", names[i]}));
    check_ok(sluice(scenario, {"verify", names[i]}));
    if (i == 0 && postgres) {
      // From expand on, the NOT VALID check refuses new NULLs.
      CHECK_THROWS(db->execute("UPDATE " + table + " SET note = NULL WHERE id = 7"));
    } else if (i == 0) {
      // MySQL cannot refuse them before the switch; the switch catches a NULL written after
      // the backfill.
      db->execute("UPDATE " + table + " SET note = NULL WHERE id = 7");
      check_refused(sluice(scenario, {"switch", names[i]}), 5, "refusing to switch");
      check_ok(sluice(scenario, {"backfill", names[i]}));
    }
    check_ok(sluice(scenario, {"switch", names[i]}));
    // --archive keeps what contract drops: the column of drop-column, the original table of a
    // rebuild (and of MySQL's add-not-null, whose switch rebuilds the table).
    const std::string archive = dir.path() + "/" + names[i] + ".zst";
    if (i == 1 || i == 3 || (i == 0 && !postgres)) {
      check_ok(sluice(scenario, {"contract", names[i], "--force", "--archive", archive}));
      CHECK(std::filesystem::exists(archive));
    } else {
      check_refused(sluice(scenario, {"contract", names[i], "--force", "--archive", archive}), 2,
                    "drops neither a column nor a table");
      check_ok(sluice(scenario, {"contract", names[i], "--force"}));
    }
    CHECK(phase_of(*db, scenario, names[i]) == "contracted");
  }
  const std::string id_type = postgres ? "numeric" : "decimal";
  CHECK(columns_of(*db, table) == std::vector<std::string>{"id:NO", "email:NO", "note:NO"});
  CHECK(db->value("SELECT data_type FROM information_schema.columns WHERE table_name = '" + table +
                  "' AND column_name = 'id'") == id_type);
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE note = 'none'") ==
        std::to_string(kPreloadedRows));
  CHECK(db->value(postgres ? "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'ec_by_email'"
                           : "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE "
                             "TABLE_NAME = 'ec_operations' AND INDEX_NAME = 'ec_by_email' AND "
                             "SEQ_IN_INDEX = 1") == "1");
  // The rebuild kept the original table until contract, which dropped it.
  CHECK(db->value("SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE "
                  "'%ec_operations%'") == "1");
}

void rebuild_archive_and_restore(const Scenario& scenario) {
  const bool postgres = scenario.text_type == "text";
  const std::string table = "ec_archive";
  const std::string old_table = "_ec_archive_old";
  const std::string name = "ec-archive-rebuild";
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  db->execute("DROP TABLE IF EXISTS " + table + ", " + old_table);
  // Every kind of value that must come back exactly: unicode text with quotes and backslashes,
  // bytes that are not text (0x00 included), exact and floating-point numbers at the ends of
  // their precision, temporal values, NULLs. 2,500 rows: more than one restore batch.
  if (postgres) {
    db->execute(
        "CREATE TABLE ec_archive (id bigint PRIMARY KEY, note text, data bytea NOT NULL, "
        "amount numeric(30,10), ratio double precision, small real, at timestamp(6), "
        "at_tz timestamptz, day date, span interval, flag boolean, doc jsonb, tags text[])");
    db->execute(
        "INSERT INTO ec_archive SELECT i, CASE WHEN i % 5 = 0 THEN NULL ELSE "
        "'ä☃😀 ''quoted'' \\ row ' || i END, decode(lpad(to_hex(i), 8, '0') || '00ff0a27', "
        "'hex'), i * 1234567.0123456789 - 99999, i / 7.0::float8, (i / 3.0)::real, "
        "timestamp '2026-03-29 01:30:00.123456' + i * interval '1 hour 1 microsecond', "
        "timestamptz '2026-10-25 00:59:59.999999+00' + i * interval '1 minute', "
        "date '1999-12-31' + i, i * interval '1 day 3 seconds', i % 2 = 0, "
        "jsonb_build_object('i', i, 's', 'ä\"'), ARRAY['a', NULL, 'b,' || i] "
        "FROM generate_series(1, 2500) AS i");
  } else {
    db->execute(
        "CREATE TABLE ec_archive (id BIGINT PRIMARY KEY, note VARCHAR(60) CHARACTER SET utf8mb4, "
        "data VARBINARY(16) NOT NULL, amount DECIMAL(30,10), ratio DOUBLE, small FLOAT, "
        "at DATETIME(6), at_tz TIMESTAMP(6) NULL, day DATE, span TIME(3), bits BIT(10), "
        "kind ENUM('a','b'), latin VARCHAR(20) CHARACTER SET latin1, twice BIGINT AS (id * 2) "
        "VIRTUAL) ENGINE=InnoDB");
    db->execute(
        "INSERT INTO ec_archive (id, note, data, amount, ratio, small, at, at_tz, day, span, "
        "bits, kind, latin) SELECT seq, IF(seq % 5 = 0, NULL, CONCAT('ä☃😀 ''quoted'' \\\\ "
        "row ', seq)), CONCAT(UNHEX(LPAD(HEX(seq), 8, '0')), X'00FF0A27'), seq * "
        "1234567.0123456789 - 99999, seq / 7e0, seq / 3e0, '2026-03-29 01:30:00.123456' + "
        "INTERVAL seq HOUR, '2026-10-25 00:59:59.999999' + INTERVAL seq MINUTE, '1999-12-31' + "
        "INTERVAL seq DAY, SEC_TO_TIME(CAST(seq AS SIGNED) * 300 - 400000), seq % 1024, IF(seq % 2 "
        "= 0, 'a', "
        "NULL), 'àé' FROM seq_1_to_2500");
  }
  const std::string rows_of =
      postgres ? "SELECT id::text, note, data::text, amount::text, ratio::text, small::text, "
                 "at::text, at_tz::text, day::text, span::text, flag::text, doc::text, "
                 "tags::text FROM "
               : "SELECT id, note, HEX(data), amount, ratio, CAST(small AS DOUBLE), at, "
                 "UNIX_TIMESTAMP(at_tz), day, span, HEX(bits), "
                 "kind, HEX(latin), twice FROM ";
  const std::string types_of =
      "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale, "
      "datetime_precision, character_maximum_length FROM information_schema.columns WHERE "
      "table_schema = " +
      std::string(postgres ? "'public'" : "DATABASE()") + " AND table_name = ";
  MigrationDir dir;
  const std::string file = dir.write(
      "rebuild.ini",
      "name = " + name + "\ntable = " + table + "\noperation = rebuild\nalter = " +
          (postgres ? "ALTER COLUMN id TYPE numeric(20)" : "MODIFY id DECIMAL(20) NOT NULL") +
          "\n");
  check_ok(sluice(scenario, {"expand", file}));
  check_ok(sluice(scenario, {"switch", name}));
  // What contract drops: the original table the rebuild kept, as it is now.
  const Rows kept = db->query(rows_of + old_table + " ORDER BY id");
  REQUIRE(kept.size() == 2500);
  const Rows kept_types = db->query(types_of + db->literal(old_table) + " ORDER BY column_name");

  const std::string archive = dir.path() + "/old-table.zst";
  std::ofstream(archive) << "an older archive";
  check_refused(sluice(scenario, {"contract", name, "--force", "--archive", archive}), 2,
                "already exists");
  CHECK(phase_of(*db, scenario, name) == "switched");
  CHECK(db->value("SELECT COUNT(*) FROM " + old_table) == "2500");  // nothing dropped
  std::ifstream older(archive);
  CHECK(std::string(std::istreambuf_iterator<char>(older), {}) == "an older archive");
  std::filesystem::remove(archive);

  const RunResult contracted =
      sluice(scenario, {"contract", name, "--force", "--archive", archive});
  check_ok(contracted);
  CHECK(contracted.err.find("archived 2500 rows of table") != std::string::npos);
  CHECK(phase_of(*db, scenario, name) == "contracted");
  CHECK(db->value("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = " +
                  db->literal(old_table)) == "0");

  // Under another name that needs quoting, then under its archived name, which exists after.
  const std::string restored_name = "Ec Archive \"restored\" `x`";
  const std::string restored = db->quote(restored_name);
  db->execute("DROP TABLE IF EXISTS " + restored);
  const RunResult restore = sluice(scenario, {"restore", archive, "--table", restored});
  check_ok(restore);
  CHECK(restore.out.find("restored 2500 rows") != std::string::npos);
  const Rows back = db->query(rows_of + restored + " ORDER BY id");
  CHECK_MESSAGE(back == kept, first_difference(back, kept));
  CHECK(db->query(types_of + db->literal(restored_name) + " ORDER BY column_name") == kept_types);
  if (!postgres) {
    // The generated column is re-created as a generated column.
    CHECK(db->value("SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = " +
                    db->literal(restored_name) + " AND COLUMN_NAME = 'twice'") ==
          "VIRTUAL GENERATED");
  }
  check_refused(sluice(scenario, {"restore", archive, "--table", restored}), 5, "already exists");
  check_ok(sluice(scenario, {"restore", archive}));
  CHECK(db->value("SELECT COUNT(*) FROM " + old_table) == "2500");
  check_refused(sluice(scenario, {"restore", archive}), 5, "already exists");
  db->execute("DROP TABLE " + restored);
  db->execute("DROP TABLE " + old_table);
}

Scenario mysql_scenario(const std::string& dsn) {
  Scenario scenario;
  scenario.dsn = dsn;
  scenario.text_type = "varchar(200)";
  scenario.migrations = "`sluice_test`.`sluice_migrations`";
  scenario.old_clients = "USER = 'shop_v1'";
  scenario.connect_old_client = [dsn = scenario.dsn] {
    std::unique_ptr<SqlSession> admin = open_session(parse_dsn(dsn));
    admin->execute("CREATE USER IF NOT EXISTS 'shop_v1'@'%' IDENTIFIED BY 'v1-secret'");
    admin->execute("GRANT SELECT ON `sluice_test`.* TO 'shop_v1'@'%'");
    Dsn client = parse_dsn(dsn);
    client.user = "shop_v1";
    return open_session(client, std::string("v1-secret"));
  };
  return scenario;
}

Scenario postgres_scenario(const std::string& dsn) {
  Scenario scenario;
  scenario.dsn = dsn;
  scenario.text_type = "text";
  scenario.migrations = "sluice.migrations";
  scenario.old_clients = "application_name LIKE 'shop-v1%'";
  scenario.connect_old_client = [dsn = scenario.dsn] {
    std::unique_ptr<SqlSession> client = open_session(parse_dsn(dsn));
    client->execute("SET application_name = 'shop-v1.7'");
    return client;
  };
  return scenario;
}

}  // namespace sluice::test

namespace sluice::test {

void repair_differing_rows(const Scenario& scenario) {
  const std::string table = "ec_repair";
  const std::string name = "ec-repair-email";
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  db->execute("DROP TABLE IF EXISTS _" + table + "_old");  // a MySQL switch's, of an earlier run
  MigrationDir dir;
  const std::string file = dir.write("repair.ini", "name = " + name + "\ntable = " + table +
                                                       "\noperation = rename-column\n"
                                                       "column = email\nnew-column = mail\n");
  check_ok(sluice(scenario, {"expand", file}));
  check_ok(sluice(scenario, {"backfill", name}));
  // The old release changes `email` only, after the backfill; a broken dual write puts a wrong
  // value into `mail`; a row of the old release is inserted without `mail`.
  db->execute("UPDATE " + table + " SET email = " +
              (scenario.text_type == "text" ? "'changed-' || id" : "CONCAT('changed-', id)") +
              " WHERE id <= 10");
  db->execute("UPDATE " + table + " SET mail = 'wrong' WHERE id = 20");
  db->execute("INSERT INTO " + table + " (id, email) VALUES (900001, 'late@ex.com')");
  check_refused(sluice(scenario, {"verify", name}), 1, "sluice backfill --repair " + name);
  // A plain backfill fills only the NULL: the changed rows stay different.
  check_ok(sluice(scenario, {"backfill", name}));
  check_refused(sluice(scenario, {"verify", name}), 1, "11 rows");

  const RunResult repaired =
      sluice(scenario, {"backfill", name, "--repair", "--chunk-size", "700"});
  check_ok(repaired);
  CHECK(repaired.err.find("11 rows written") != std::string::npos);
  check_ok(sluice(scenario, {"verify", name}));
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE mail IS NULL OR mail <> email") == "0");
  // A repair with nothing to repair writes nothing.
  const RunResult again = sluice(scenario, {"backfill", name, "--repair"});
  check_ok(again);
  CHECK(again.err.find(" 0 rows written") != std::string::npos);
  check_ok(sluice(scenario, {"switch", name}));
  check_ok(sluice(scenario, {"contract", name}));
}

}  // namespace sluice::test

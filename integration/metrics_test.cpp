// The metrics file of a real `sluice alter --execute` on MariaDB and on PostgreSQL, scraped while
// the migration runs under an application's writes: every scrape parses by the Prometheus text
// grammar, and the values move as the migration does (paused with its reason, copying, held
// before the cut-over while changes are applied, done with the cut-over's write-block time). Flag
// files hold the migration in each state; conditions are awaited, no duration is asserted.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "integration/pg_table_writer.h"
#include "integration/support.h"
#include "integration/table_writer.h"
#include "tests/prometheus_text.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

using Samples = std::map<std::string, double>;

constexpr auto kLimit = 120s;

// The file as a scraper reads it, checked against the grammar; empty before sluice writes it.
Samples scrape(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return {};
  }
  std::ostringstream text;
  text << file.rdbuf();
  Samples samples;
  REQUIRE_NOTHROW(samples = parse_prometheus_text(text.str()));
  return samples;
}

// The value of the series `name{table="…"<labels>}`, or nullopt.
std::optional<double> value(const Samples& samples, const std::string& table,
                            const std::string& name, const std::string& labels = "") {
  const auto found = samples.find(name + "{table=\"" + table + "\"" + labels + "}");
  return found == samples.end() ? std::nullopt : std::optional<double>(found->second);
}

// Follows `sluice alter --execute` of `table` (created with 20,000 rows, written by the
// application while it runs) through its metrics file. `alter` changes k's type; `stream_in_copy`:
// the server family reads the change stream while it copies (MySQL), so held changes grow while
// the copy is paused.
void follow_migration(ServerKind kind, const std::string& table, const std::string& alter,
                      bool stream_in_copy) {
  const std::string dsn = server_dsn(kind);
  ScratchDir scratch;
  scratch.touch("throttle");
  scratch.touch("postpone");
  const std::string metrics = scratch.file("sluice.prom");
  SluiceProcess sluice({"alter", "--dsn", dsn, "--table", table, "--alter", alter, "--execute",
                        "--chunk-time", "20", "--status-interval", "0.1", "--metrics-file", metrics,
                        "--throttle-flag-file", scratch.file("throttle"),
                        "--postpone-cutover-flag-file", scratch.file("postpone")});
  const auto at = [&](const Samples& samples, const std::string& name,
                      const std::string& labels = "") {
    return value(samples, table, name, labels).value_or(-1);
  };
  const auto in_phase = [&](const Samples& samples, const std::string& phase) {
    return at(samples, "sluice_phase", ",phase=\"" + phase + "\"") == 1;
  };
  Samples samples;
  std::vector<double> rows_copied;  // every scrape's, to check the counter never goes back
  const auto until = [&](auto done) {
    return eventually(
        [&] {
          samples = scrape(metrics);
          if (!samples.empty()) {
            rows_copied.push_back(at(samples, "sluice_rows_copied_total"));
          }
          return !samples.empty() && done();
        },
        kLimit);
  };

  // Paused by the throttle file: the reason is a label, and each rewrite has a newer timestamp.
  const std::string reason =
      ",reason=\"throttle flag file " + scratch.file("throttle") + " exists\"";
  REQUIRE(until(
      [&] { return in_phase(samples, "copy") && at(samples, "sluice_throttled", reason) == 1; }));
  CHECK(at(samples, "sluice_rows_copied_total") == 0);
  CHECK(at(samples, "sluice_rows_estimated") > 0);
  CHECK(at(samples, "sluice_cut_over_postponed", ",reason=\"\"") == 0);
  CHECK(value(samples, table, "sluice_cut_over_write_block_seconds") == std::nullopt);
  const double written = at(samples, "sluice_last_update_timestamp_seconds");
  if (stream_in_copy) {
    const double held = at(samples, "sluice_changes_held");
    REQUIRE(until([&] { return at(samples, "sluice_changes_held") > held; }));
  } else {
    REQUIRE(until([&] { return at(samples, "sluice_last_update_timestamp_seconds") > written; }));
  }
  CHECK(at(samples, "sluice_last_update_timestamp_seconds") > written);

  // Copying, then held before the cut-over with the postpone file's reason, applying changes.
  scratch.remove("throttle");
  REQUIRE(until([&] { return in_phase(samples, "waiting"); }));
  CHECK(at(samples, "sluice_rows_copied_total") >= 20000);
  CHECK(at(samples, "sluice_throttled", ",reason=\"\"") == 0);
  CHECK(at(samples, "sluice_cut_over_postponed",
           ",reason=\"postpone flag file " + scratch.file("postpone") + " exists\"") == 1);
  CHECK(at(samples, "sluice_stream_lag_seconds") >= 0);
  const double applied = at(samples, "sluice_changes_applied_total");
  REQUIRE(until([&] { return at(samples, "sluice_changes_applied_total") > applied; }));

  // Done: the last rewrite has the final phase and the cut-over's figures.
  scratch.remove("postpone");
  REQUIRE(sluice.wait(kLimit) == 0);
  samples = scrape(metrics);
  CHECK(in_phase(samples, "done"));
  CHECK(at(samples, "sluice_cut_over_write_block_seconds") >= 0);
  CHECK(at(samples, "sluice_cut_over_attempts") >= 1);
  CHECK(at(samples, "sluice_errors_total") == 0);
  CHECK(at(samples, "sluice_retries_total") == 0);
  CHECK(at(samples, "sluice_elapsed_seconds") > 0);
  for (std::size_t i = 1; i < rows_copied.size(); ++i) {
    CHECK(rows_copied[i] >= rows_copied[i - 1]);
  }
  // Only the file: no temporary file is left next to it.
  CHECK(std::distance(std::filesystem::directory_iterator(scratch.path()),
                      std::filesystem::directory_iterator()) == 1);
}

}  // namespace

TEST_CASE("the metrics file follows a migration on MariaDB: paused, copying, held, done") {
  const std::string table = "met_flow";
  auto db = mysql_admin();
  create_typed_table(*db, table, table + "_twin", 20000, false);
  TableWriter writer(sluice::parse_dsn(server_dsn(ServerKind::mysql)), table, table + "_twin");
  writer.start();
  follow_migration(ServerKind::mysql, table, "MODIFY k BIGINT NOT NULL DEFAULT 0", true);
  writer.stop();
  CHECK(table_rows(*db, table, table + "_twin") == table_rows(*db, table + "_twin", table));
}

// PostgreSQL copies under the slot's snapshot and reads the stream once the copy is done.
TEST_CASE("the metrics file follows a migration on PostgreSQL: paused, copying, held, done") {
  const std::string table = "met_pg_flow";
  auto db = postgres_admin();
  create_pg_table(*db, table, table + "_twin", 20000, false);
  PgTableWriter writer(sluice::parse_dsn(server_dsn(ServerKind::postgres)), table, table + "_twin");
  writer.start();
  follow_migration(ServerKind::postgres, table, "ALTER COLUMN k TYPE bigint", false);
  writer.stop();
  CHECK(pg_table_rows(*db, table, table + "_twin", table) ==
        pg_table_rows(*db, table + "_twin", table, table));
}

TEST_CASE("a metrics file that cannot be written stops sluice before it changes anything") {
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS met_refused");
  db->execute("CREATE TABLE met_refused (id INT PRIMARY KEY, k INT NOT NULL)");
  const RunResult run = run_sluice({"alter", "--dsn", server_dsn(ServerKind::mysql), "--table",
                                    "met_refused", "--alter", "MODIFY k BIGINT NOT NULL",
                                    "--execute", "--metrics-file", "/nonexistent/dir/sluice.prom"});
  INFO("stderr: " << run.err);
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("sluice: error: --metrics-file: cannot write /nonexistent/dir/sluice.prom") !=
        std::string::npos);
  CHECK(db->query("SHOW TABLES LIKE 'met_refused_sluice_new'").empty());
}

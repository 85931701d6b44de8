// The metrics file of a real `sluice alter --execute` on MariaDB, scraped while the migration
// runs under an application's writes: every scrape parses by the Prometheus text grammar, and
// the values move as the migration does (paused with its reason, copying, held before the
// cut-over while changes are applied, done with the cut-over's write-block time). Flag files
// hold the migration in each state; conditions are awaited, no duration is asserted.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "integration/support.h"
#include "integration/table_writer.h"
#include "tests/prometheus_text.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

using Samples = std::map<std::string, double>;

constexpr auto kLimit = 120s;

struct Scratch {
  std::string path;
  Scratch() {
    char name[] = "/tmp/sluice-metrics-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~Scratch() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  void touch(const std::string& name) const { std::ofstream(file(name)) << ""; }
  void remove(const std::string& name) const { std::filesystem::remove(file(name)); }
};

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

template <typename Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

}  // namespace

TEST_CASE("the metrics file follows a migration: paused, copying, held, done") {
  const std::string table = "met_flow";
  const std::string dsn = server_dsn(ServerKind::mysql);
  auto db = mysql_admin();
  create_typed_table(*db, table, table + "_twin", 20000, false);
  TableWriter writer(sluice::parse_dsn(dsn), table, table + "_twin");
  writer.start();
  Scratch scratch;
  scratch.touch("throttle");
  scratch.touch("postpone");
  const std::string metrics = scratch.file("sluice.prom");
  SluiceProcess sluice({"alter", "--dsn", dsn, "--table", table, "--alter",
                        "MODIFY k BIGINT NOT NULL DEFAULT 0", "--execute", "--chunk-time", "20",
                        "--status-interval", "0.1", "--metrics-file", metrics,
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
    return eventually([&] {
      samples = scrape(metrics);
      if (!samples.empty()) {
        rows_copied.push_back(at(samples, "sluice_rows_copied_total"));
      }
      return !samples.empty() && done();
    });
  };

  // Paused by the throttle file: the reason is a label; the change stream is still read, so
  // held changes grow, and each rewrite has a newer timestamp.
  const std::string reason =
      ",reason=\"throttle flag file " + scratch.file("throttle") + " exists\"";
  REQUIRE(until(
      [&] { return in_phase(samples, "copy") && at(samples, "sluice_throttled", reason) == 1; }));
  CHECK(at(samples, "sluice_rows_copied_total") == 0);
  CHECK(at(samples, "sluice_rows_estimated") > 0);
  CHECK(at(samples, "sluice_cut_over_postponed", ",reason=\"\"") == 0);
  CHECK(value(samples, table, "sluice_cut_over_write_block_seconds") == std::nullopt);
  const double held = at(samples, "sluice_changes_held");
  const double written = at(samples, "sluice_last_update_timestamp_seconds");
  REQUIRE(until([&] { return at(samples, "sluice_changes_held") > held; }));
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
  writer.stop();
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
  CHECK(std::distance(std::filesystem::directory_iterator(scratch.path),
                      std::filesystem::directory_iterator()) == 1);
  CHECK(table_rows(*db, table, table + "_twin") == table_rows(*db, table + "_twin", table));
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

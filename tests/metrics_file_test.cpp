#include "src/metrics_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/error.h"
#include "tests/prometheus_text.h"

using namespace std::chrono_literals;
using sluice::MigrationStatus;
using sluice::RunCounters;
using sluice::RunStep;
using sluice::test::parse_prometheus_text;

namespace {

MigrationStatus paused_copy() {
  MigrationStatus status;
  status.table = "shop.orders";
  status.step = RunStep::copy;
  status.rows_copied = 500;
  status.rows_estimated = 1000;
  status.changes_applied = 7;
  status.changes_held = 3;
  status.stream_lag = 1500ms;
  status.elapsed = 2000ms;
  status.throttle_reason = "max-load Threads_running=31 > 25 \"quoted\" \\ and\nnewline";
  return status;
}

std::string read(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the metrics follow the Prometheus text grammar and carry the status") {
  RunCounters counters;
  counters.errors = 2;
  counters.retries = 1;
  const auto now = std::chrono::system_clock::time_point(1700000000s);
  const auto samples = parse_prometheus_text(render_metrics(paused_copy(), 250.5, counters, now));
  const std::string t = "{table=\"shop.orders\"";
  CHECK(samples.at("sluice_phase" + t + ",phase=\"copy\"}") == 1);
  CHECK(samples.at("sluice_phase" + t + ",phase=\"cut-over\"}") == 0);
  CHECK(samples.at("sluice_rows_copied_total" + t + "}") == 500);
  CHECK(samples.at("sluice_rows_estimated" + t + "}") == 1000);
  CHECK(samples.at("sluice_rows_per_second" + t + "}") == 250.5);
  CHECK(samples.at("sluice_changes_applied_total" + t + "}") == 7);
  CHECK(samples.at("sluice_changes_held" + t + "}") == 3);
  CHECK(samples.at("sluice_stream_lag_seconds" + t + "}") == 1.5);
  // The reason is a label value: quotes, backslashes and newlines escaped.
  CHECK(samples.at(
            "sluice_throttled" + t +
            ",reason=\"max-load Threads_running=31 > 25 \\\"quoted\\\" \\\\ and\\nnewline\"}") ==
        1);
  CHECK(samples.at("sluice_cut_over_postponed" + t + ",reason=\"\"}") == 0);
  CHECK(samples.at("sluice_errors_total" + t + "}") == 2);
  CHECK(samples.at("sluice_retries_total" + t + "}") == 1);
  CHECK(samples.at("sluice_elapsed_seconds" + t + "}") == 2);
  CHECK(samples.at("sluice_last_update_timestamp_seconds" + t + "}") == 1700000000);
  // The cut-over's figures appear once it is done.
  CHECK(samples.count("sluice_cut_over_write_block_seconds" + t + "}") == 0);
  MigrationStatus done = paused_copy();
  done.step = RunStep::done;
  done.throttle_reason.clear();
  counters.write_block = 37ms;
  counters.cut_over_attempts = 1;
  const auto final_samples = parse_prometheus_text(render_metrics(done, 0, counters, now));
  CHECK(final_samples.at("sluice_cut_over_write_block_seconds" + t + "}") ==
        doctest::Approx(0.037));
  CHECK(final_samples.at("sluice_cut_over_attempts" + t + "}") == 1);
  CHECK(final_samples.at("sluice_phase" + t + ",phase=\"done\"}") == 1);
  CHECK(final_samples.at("sluice_throttled" + t + ",reason=\"\"}") == 0);
}

TEST_CASE("the grammar check refuses what a scraper would refuse") {
  CHECK_THROWS(parse_prometheus_text("a 1\n"));                             // no TYPE
  CHECK_THROWS(parse_prometheus_text("# TYPE a gauge\na{b=\"c} 1\n"));      // open quote
  CHECK_THROWS(parse_prometheus_text("# TYPE a gauge\na one\n"));           // not a number
  CHECK_THROWS(parse_prometheus_text("# TYPE a gauge\na 1\na 2\n"));        // duplicate
  CHECK_THROWS(parse_prometheus_text("# TYPE a gauge\na 1"));               // no newline
  CHECK_THROWS(parse_prometheus_text("# TYPE a gauge\na{b=\"\\x\"} 1\n"));  // bad escape
  CHECK(parse_prometheus_text("# TYPE a gauge\na{b=\"\\\"\"} 1e3\n").size() == 1);
}

TEST_CASE("the metrics file is replaced whole, readable by others, its temporary file gone") {
  char name[] = "/tmp/sluice-metrics-test-XXXXXX";
  const std::string dir = ::mkdtemp(name);
  const std::string path = dir + "/sluice.prom";
  const sluice::MetricsFile file(path);
  const mode_t old_mask = ::umask(077);
  file.write("# TYPE a gauge\na 1\n");
  file.write("# TYPE a gauge\na 2\n");
  ::umask(old_mask);
  CHECK(read(path) == "# TYPE a gauge\na 2\n");
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0644);
  CHECK(std::distance(std::filesystem::directory_iterator(dir),
                      std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
  CHECK_THROWS_AS(file.write("x\n"), sluice::Error);
}

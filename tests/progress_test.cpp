#include "src/progress.h"

#include <doctest/doctest.h>

#include <sstream>

using namespace std::chrono_literals;
using sluice::MigrationStatus;
using sluice::RunStep;

namespace {

MigrationStatus copying() {
  MigrationStatus status;
  status.table = "t";
  status.step = RunStep::copy;
  status.rows_copied = 500;
  status.rows_estimated = 1000;
  status.changes_applied = 7;
  status.chunk_rows = 100;
  status.elapsed = 2000ms;
  return status;
}

}  // namespace

TEST_CASE("the copy rate covers recent seconds, so a pause shows 0 rows/s") {
  sluice::RateMeter meter;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(meter.rows_per_second() == 0);
  meter.add(t0, 0);
  meter.add(t0 + 1s, 1000);
  CHECK(meter.rows_per_second() == doctest::Approx(1000));
  for (int second = 2; second <= 20; ++second) {
    meter.add(t0 + std::chrono::seconds(second), 1000);
  }
  CHECK(meter.rows_per_second() == 0);
}

TEST_CASE("state words: running, paused, waiting, done, aborted") {
  MigrationStatus status = copying();
  CHECK(std::string(sluice::state_name(status)) == "running");
  status.throttle_reason = "throttle flag file /f exists";
  CHECK(std::string(sluice::state_name(status)) == "paused");
  CHECK(sluice::status_line(status, 0).find("paused: throttle flag file /f exists") !=
        std::string::npos);
  status.throttle_reason.clear();
  status.step = RunStep::waiting;
  status.postpone_reason = "postpone flag file /p exists";
  CHECK(std::string(sluice::state_name(status)) == "waiting");
  CHECK(sluice::status_line(status, 0).find("waiting to cut over: postpone flag file") !=
        std::string::npos);
  status.step = RunStep::aborted;
  CHECK(std::string(sluice::state_name(status)) == "aborted");
  status.step = RunStep::done;
  CHECK(std::string(sluice::state_name(status)) == "done");
}

TEST_CASE("the JSON status carries every documented field") {
  const nlohmann::ordered_json json = sluice::status_json(copying(), 250);
  for (const char* field :
       {"event", "table", "phase", "state", "rows_copied", "rows_estimated", "percent",
        "rows_per_second", "eta_seconds", "changes_applied", "changes_held", "chunk_rows",
        "stream_lag_seconds", "elapsed_seconds", "throttle_reason", "postpone_reason"}) {
    CAPTURE(field);
    CHECK(json.contains(field));
  }
  CHECK(json["event"] == "status");
  CHECK(json["phase"] == "copy");
  CHECK(json["percent"] == 50.0);
  CHECK(json["eta_seconds"] == 2.0);
  CHECK(json["throttle_reason"].is_null());
}

TEST_CASE("a paused copy shows 0 rows/s and no ETA, although the last seconds moved rows") {
  MigrationStatus status = copying();
  status.throttle_reason = "throttle flag file /f exists";
  const std::string line = sluice::status_line(status, 250);
  CHECK(line.find(", 0 rows/s,") != std::string::npos);
  CHECK(line.find("ETA") == std::string::npos);
  const nlohmann::ordered_json json = sluice::status_json(status, 250);
  CHECK(json["rows_per_second"] == 0.0);
  CHECK(json["eta_seconds"].is_null());
  status.throttle_reason.clear();
  CHECK(sluice::status_line(status, 250).find(", 250 rows/s, ETA 2 s,") != std::string::npos);
}

TEST_CASE("without a row estimate the line shows the rows so far, no share of 0 rows") {
  MigrationStatus status = copying();
  status.rows_copied = 1000;
  status.rows_estimated = 0;
  const std::string line = sluice::status_line(status, 250);
  CHECK(line.rfind("copy 1000 rows (no row estimate), 250 rows/s, stream lag", 0) == 0);
  CHECK(line.find("/0 rows") == std::string::npos);
  const nlohmann::ordered_json json = sluice::status_json(status, 250);
  CHECK(json["percent"].is_null());
  CHECK(json["eta_seconds"].is_null());
}

TEST_CASE("off a terminal, a status is shown on a state change and once per interval") {
  std::ostringstream out;
  sluice::Progress progress({.tty = false, .json = true, .interval = 1h}, out);
  MigrationStatus status = copying();
  CHECK(progress.update(status, 0));  // the first status is a change
  CHECK_FALSE(progress.update(status, 0));
  status.throttle_reason = "throttled through the control socket";
  CHECK(progress.update(status, 0));
  CHECK_FALSE(progress.update(status, 0));
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    CHECK(nlohmann::json::parse(line)["event"] == "status");
    ++count;
  }
  CHECK(count == 2);
}

#include "src/throttler.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "src/error.h"

using namespace std::chrono_literals;
using sluice::CriticalLoadTimer;
using sluice::LoadThreshold;
using sluice::ReplicaLag;
using sluice::Throttler;
using sluice::ThrottleSettings;

namespace {

// A server whose readings the test sets.
struct FakeProbe : sluice::LoadProbe {
  std::map<std::string, double> values;
  std::vector<ReplicaLag> lags;
  double query_result = 0;
  std::map<std::string, double> load(const std::vector<std::string>& names) override {
    std::map<std::string, double> out;
    for (const std::string& name : names) {
      if (!values.contains(name)) {
        throw sluice::Error(sluice::ExitCode::usage, "no metric " + name);
      }
      out[name] = values.at(name);
    }
    return out;
  }
  std::vector<ReplicaLag> replica_lag() override { return lags; }
  double throttle_query(const std::string&) override { return query_result; }
};

std::string temp_path(const std::string& name) {
  return "/tmp/sluice-throttler-test-" + std::to_string(::getpid()) + "-" + name;
}

void touch(const std::string& path) {
  std::ofstream(path) << "";
}

}  // namespace

TEST_CASE("load thresholds parse, format back and reject malformed lists") {
  CHECK(sluice::parse_load_thresholds("Threads_running=25, Threads_connected=500", "--max-load") ==
        std::vector<LoadThreshold>{{"Threads_running", 25}, {"Threads_connected", 500}});
  CHECK(sluice::parse_load_thresholds("", "--max-load").empty());
  CHECK(sluice::parse_load_thresholds("lag=0.5", "--max-load").front().limit == 0.5);
  CHECK(sluice::format_load_thresholds({{"Threads_running", 25}, {"x", 0.5}}) ==
        "Threads_running=25,x=0.500000");
  for (const char* bad : {"Threads_running", "=5", "Threads_running=", "a=b", "a=-1", "a=5x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(sluice::parse_load_thresholds(bad, "--max-load"), sluice::Error);
  }
}

TEST_CASE("a load limit throttles only when the metric is above it") {
  const std::vector<LoadThreshold> limits{{"Threads_running", 25}, {"Threads_connected", 500}};
  CHECK_FALSE(sluice::exceeded(limits, {{"Threads_running", 25}, {"Threads_connected", 10}}));
  CHECK(sluice::exceeded(limits, {{"Threads_running", 26}}) == "Threads_running=26 > 25");
  CHECK(sluice::exceeded(limits, {{"Threads_running", 3}, {"Threads_connected", 501}}) ==
        "Threads_connected=501 > 500");
  CHECK_FALSE(sluice::exceeded({}, {{"Threads_running", 1000}}));
}

TEST_CASE("a replica lagging too far or not replicating throttles") {
  CHECK_FALSE(sluice::lagging({{"r1", 900ms, ""}, {"r2", 1000ms, ""}}, 1000ms));
  CHECK(sluice::lagging({{"r1", 900ms, ""}, {"r2", 1500ms, ""}}, 1000ms) ==
        "replica r2 lags 1500 ms > 1000 ms");
  CHECK(sluice::lagging({{"r1", std::nullopt, ""}}, 1000ms) == "replica r1 is not replicating");
  CHECK_FALSE(sluice::lagging({}, 1000ms));
}

TEST_CASE("a replica with a problem throttles whatever its lag, and the reason names the lag") {
  CHECK(sluice::lagging({{"r1", 0ms, "is not replicating (Slave_SQL_Running: No)"}}, 1000ms) ==
        "replica r1 is not replicating (Slave_SQL_Running: No), 0 ms behind");
  CHECK(sluice::lagging({{"r1", 100ms, ""}, {"r2", 2300ms, "is not replicating (x)"}}, 60000ms) ==
        "replica r2 is not replicating (x), 2300 ms behind");
  CHECK(sluice::lagging({{"r1", std::nullopt, "cannot be read: connection refused"}}, 1000ms) ==
        "replica r1 cannot be read: connection refused");
}

TEST_CASE("critical load aborts at once without an interval, after the interval with one") {
  const auto t0 = std::chrono::steady_clock::now();
  CriticalLoadTimer at_once(0ms);
  CHECK(at_once.update(true, t0));

  CriticalLoadTimer patient(2000ms);
  CHECK_FALSE(patient.update(true, t0));
  CHECK_FALSE(patient.update(true, t0 + 1500ms));
  CHECK_FALSE(patient.update(false, t0 + 1600ms));  // the spike ended: the clock restarts
  CHECK_FALSE(patient.update(true, t0 + 1700ms));
  CHECK_FALSE(patient.update(true, t0 + 3000ms));
  CHECK(patient.update(true, t0 + 3700ms));
}

TEST_CASE("sentinel files throttle, postpone and abort while they exist") {
  ThrottleSettings settings;
  settings.throttle_flag_file = temp_path("throttle");
  settings.postpone_flag_file = temp_path("postpone");
  settings.panic_flag_file = temp_path("panic");
  Throttler throttler(settings, nullptr);
  throttler.start();
  CHECK_FALSE(throttler.throttle_reason());
  CHECK_FALSE(throttler.postpone_reason());
  CHECK_FALSE(throttler.abort_reason());

  touch(settings.throttle_flag_file);
  touch(settings.postpone_flag_file);
  CHECK(throttler.throttle_reason() ==
        "throttle flag file " + settings.throttle_flag_file + " exists");
  CHECK(throttler.postpone_reason() ==
        "postpone flag file " + settings.postpone_flag_file + " exists");
  ::unlink(settings.throttle_flag_file.c_str());
  CHECK_FALSE(throttler.throttle_reason());

  throttler.request_cut_over();  // the socket's cut-over overrides the postpone file
  CHECK_FALSE(throttler.postpone_reason());
  ::unlink(settings.postpone_flag_file.c_str());

  touch(settings.panic_flag_file);
  CHECK(throttler.abort_reason() == "panic flag file " + settings.panic_flag_file + " exists");
  ::unlink(settings.panic_flag_file.c_str());
}

TEST_CASE("socket requests throttle and abort; the socket's throttle wins over no file") {
  Throttler throttler(ThrottleSettings{}, nullptr);
  throttler.request_throttle(true);
  CHECK(throttler.throttle_reason() == "throttled through the control socket");
  throttler.request_throttle(false);
  CHECK_FALSE(throttler.throttle_reason());
  throttler.request_panic();
  CHECK(throttler.abort_reason() == "panic requested through the control socket");
  throttler.set_nice_ratio(0.5);
  CHECK(throttler.nice_ratio() == 0.5);
  throttler.set_max_load({{"Threads_running", 30}});
  CHECK(throttler.max_load() == "Threads_running=30");
}

TEST_CASE("server readings throttle with their reason, and a misnamed metric is refused") {
  auto probe = std::make_unique<FakeProbe>();
  probe->values = {{"Threads_running", 40}, {"Threads_connected", 10}};
  ThrottleSettings settings;
  settings.max_load = {{"Threads_running", 25}};
  Throttler throttler(settings, std::move(probe));
  throttler.start();  // probes once before returning
  CHECK(throttler.throttle_reason() == "max-load Threads_running=40 > 25");

  auto typo = std::make_unique<FakeProbe>();
  ThrottleSettings misnamed;
  misnamed.max_load = {{"Threads_runing", 25}};
  Throttler refused(misnamed, std::move(typo));
  CHECK_THROWS_AS(refused.start(), sluice::Error);
}

TEST_CASE("replica lag, the throttle query and critical load come from the probe") {
  {
    auto probe = std::make_unique<FakeProbe>();
    probe->lags = {{"replica1", 5000ms, ""}};
    ThrottleSettings settings;
    settings.max_lag = 1000ms;
    Throttler throttler(settings, std::move(probe));
    throttler.start();
    CHECK(throttler.throttle_reason() == "replica replica1 lags 5000 ms > 1000 ms");
  }
  {
    auto probe = std::make_unique<FakeProbe>();
    probe->query_result = 2;
    ThrottleSettings settings;
    settings.throttle_query = "SELECT 2";
    Throttler throttler(settings, std::move(probe));
    throttler.start();
    CHECK(throttler.throttle_reason() == "throttle query returned 2");
  }
  {
    auto probe = std::make_unique<FakeProbe>();
    probe->values = {{"Threads_running", 90}};
    ThrottleSettings settings;
    settings.critical_load = {{"Threads_running", 80}};
    Throttler throttler(settings, std::move(probe));
    throttler.start();
    CHECK(throttler.abort_reason() == "critical-load Threads_running=90 > 80");
    CHECK_FALSE(throttler.throttle_reason());
  }
}

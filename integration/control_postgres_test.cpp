// The PostgreSQL load probe against a real server: the metrics --max-load / --critical-load read
// from pg_stat_activity, standby lag from pg_stat_replication (with pg_receivewal as a
// standby), the throttle query, and the Throttler deciding on them. PostgreSQL's `sluice alter`
// backend is not merged yet; this covers what it will use.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "integration/support.h"
#include "src/error.h"
#include "src/postgres/pg_load_probe.h"
#include "src/throttler.h"

using sluice::ServerKind;
using sluice::postgres::PgLoadProbe;
using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

sluice::Dsn dsn() {
  return sluice::parse_dsn(server_dsn(ServerKind::postgres));
}

template <typename Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// pg_receivewal streaming from the test server under `name`: a standby as the primary sees it.
class Standby {
 public:
  explicit Standby(const std::string& name) {
    char dir[] = "/tmp/sluice-standby-XXXXXX";
    dir_ = ::mkdtemp(dir);
    const std::string url = server_dsn(ServerKind::postgres) + "?application_name=" + name;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/usr/lib/postgresql/15/bin/pg_receivewal", "pg_receivewal", "--no-loop", "-D",
              dir_.c_str(), "-d", url.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Standby() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  Standby(const Standby&) = delete;
  Standby& operator=(const Standby&) = delete;

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("PostgreSQL load metrics count other sessions by state") {
  PgLoadProbe probe(dsn(), std::nullopt, {});
  const auto idle = probe.load({"active_backends", "backends", "idle_in_transaction"});
  CHECK(idle.at("active_backends") >= 0);

  auto open = postgres_admin();
  open->execute("BEGIN; SELECT 1");  // left open: idle in transaction
  auto sleeper = postgres_admin();
  std::thread sleeping([&] { sleeper->query("SELECT pg_sleep(3)"); });
  CHECK(eventually([&] {
    const auto values = probe.load({"active_backends", "backends", "idle_in_transaction"});
    return values.at("active_backends") >= 1 && values.at("backends") >= 2 &&
           values.at("idle_in_transaction") >= 1;
  }));
  sleeping.join();
  open->execute("ROLLBACK");

  open->execute("DROP TABLE IF EXISTS probe_lock; CREATE TABLE probe_lock (id int)");
  open->execute("BEGIN; LOCK TABLE probe_lock");
  auto waiter = postgres_admin();
  std::thread waiting([&] { waiter->execute("BEGIN; LOCK TABLE probe_lock; COMMIT"); });
  CHECK(eventually([&] { return probe.load({"lock_waiting"}).at("lock_waiting") >= 1; }));
  open->execute("COMMIT");
  waiting.join();
  open->execute("DROP TABLE probe_lock");
}

TEST_CASE("an unknown PostgreSQL metric is a usage error naming the known ones") {
  PgLoadProbe probe(dsn(), std::nullopt, {});
  try {
    probe.load({"Threads_running"});
    FAIL("no error");
  } catch (const sluice::Error& error) {
    CHECK(error.code() == sluice::ExitCode::usage);
    CHECK(std::string(error.what()).find("active_backends") != std::string::npos);
  }
}

TEST_CASE("the throttle query's first column is read as a number; booleans count") {
  PgLoadProbe probe(dsn(), std::nullopt, {});
  CHECK(probe.throttle_query("SELECT 3") == 3);
  CHECK(probe.throttle_query("SELECT 0.5") == 0.5);
  CHECK(probe.throttle_query("SELECT true") == 1);
  CHECK(probe.throttle_query("SELECT false") == 0);
  CHECK(probe.throttle_query("SELECT NULL") == 0);
  CHECK(probe.throttle_query("SELECT 1 WHERE false") == 0);
  CHECK_THROWS_AS(probe.throttle_query("SELECT 'busy'"), sluice::Error);
  CHECK_THROWS_AS(probe.throttle_query("SELECT * FROM no_such_table"), sluice::Error);
  CHECK(probe.throttle_query("SELECT 2") == 2);  // the session is reopened after a failure
}

TEST_CASE("standby lag comes from pg_stat_replication; a listed standby that is away throttles") {
  PgLoadProbe away(dsn(), std::nullopt, {"sluice_standby"});
  std::vector<sluice::ReplicaLag> lags = away.replica_lag();
  REQUIRE(lags.size() == 1);
  CHECK(lags[0].replica == "sluice_standby");
  CHECK_FALSE(lags[0].lag.has_value());
  CHECK(sluice::lagging(lags, 1000ms) ==
        "replica sluice_standby is not replicating (not connected: absent from "
        "pg_stat_replication)");

  Standby standby("sluice_standby");
  CHECK(eventually([&] {
    const auto now = away.replica_lag();
    // A standby still catching up (state catchup) throttles too: wait for it to stream.
    return now.size() == 1 && now[0].lag.has_value() && now[0].problem.empty();
  }));
  CHECK_FALSE(sluice::lagging(away.replica_lag(), 60000ms));
}

TEST_CASE("the Throttler throttles on PostgreSQL load and aborts on critical load") {
  auto sleeper = postgres_admin();
  std::thread sleeping([&] { sleeper->query("SELECT pg_sleep(4)"); });
  auto check_active =
      std::make_unique<PgLoadProbe>(dsn(), std::nullopt, std::vector<std::string>{});
  REQUIRE(eventually(
      [&] { return check_active->load({"active_backends"}).at("active_backends") >= 1; }));

  sluice::ThrottleSettings settings;
  settings.max_load = {{"active_backends", 0}};
  settings.critical_load = {{"backends", 0}};
  sluice::Throttler throttler(
      settings, std::make_unique<PgLoadProbe>(dsn(), std::nullopt, std::vector<std::string>{}));
  throttler.start();
  const std::optional<std::string> reason = throttler.throttle_reason();
  REQUIRE(reason);
  CHECK(reason->find("max-load active_backends=") == 0);
  REQUIRE(throttler.abort_reason());
  CHECK(throttler.abort_reason()->find("critical-load backends=") == 0);
  sleeping.join();

  sluice::ThrottleSettings typo;
  typo.max_load = {{"active_backend", 5}};
  sluice::Throttler refused(
      typo, std::make_unique<PgLoadProbe>(dsn(), std::nullopt, std::vector<std::string>{}));
  CHECK_THROWS_AS(refused.start(), sluice::Error);
}

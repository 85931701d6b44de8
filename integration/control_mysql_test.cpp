// Steering a running `sluice alter` on MariaDB while an application writes: sentinel files, the
// control socket, load throttling and hooks. Every migration that completes ends with a full
// row-for-row comparison with a twin table; every aborted one leaves the original table and
// nothing else. Conditions are awaited with generous deadlines; no test asserts a duration.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/support.h"
#include "integration/table_writer.h"
#include "src/load_probe.h"
#include "src/server_family.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr auto kLimit = 120s;

std::string dsn() {
  return server_dsn(ServerKind::mysql);
}

// The JSON objects sluice printed so far, one per line.
std::vector<json> events(const std::string& out) {
  std::vector<json> parsed;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.front() == '{') {
      parsed.push_back(json::parse(line));
    }
  }
  return parsed;
}

std::vector<json> status_events(const std::string& out, const std::string& state) {
  std::vector<json> found;
  for (const json& event : events(out)) {
    if (event["event"] == "status" && event["state"] == state) {
      found.push_back(event);
    }
  }
  return found;
}

// Sends one line to the control socket and returns the answer.
std::string ask(const std::string& path, const std::string& line) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string request = line + "\n";
  REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

// A table under a running application, migrated by a sluice in the background.
struct Migration {
  std::string table;
  std::string twin;
  std::unique_ptr<sluice::mysql::Connection> db = mysql_admin();
  std::unique_ptr<TableWriter> writer;
  std::unique_ptr<SluiceProcess> sluice;

  Migration(const std::string& name, int rows, const std::vector<std::string>& options)
      : table(name), twin(name + "_twin") {
    create_typed_table(*db, table, twin, rows, false);
    db->execute("DROP TABLE IF EXISTS `" + table + "_sluice_old`");
    writer = std::make_unique<TableWriter>(sluice::parse_dsn(dsn()), table, twin);
    writer->start();
    std::vector<std::string> args = {"alter",
                                     "--dsn",
                                     dsn(),
                                     "--table",
                                     table,
                                     "--alter",
                                     "MODIFY k BIGINT NOT NULL DEFAULT 0",
                                     "--execute",
                                     "--chunk-time",
                                     "20",
                                     "--json",
                                     "--status-interval",
                                     "0.2"};
    args.insert(args.end(), options.begin(), options.end());
    sluice = std::make_unique<SluiceProcess>(args);
  }

  // Collects what sluice printed in the last moment.
  void read_more() {
    const std::string& out = sluice->out();
    sluice->read_lines(static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n')) + 1,
                       100ms);
  }

  // Waits for a status event in `state`.
  bool reaches(const std::string& state) {
    return sluice->wait_for("\"state\":\"" + state + "\"", kLimit);
  }

  // Waits for the exit, stops the application and returns the exit code.
  int finish() {
    const int code = sluice->wait(kLimit);
    std::this_thread::sleep_for(200ms);
    writer->stop();
    CHECK(writer->transactions() > 0);
    return code;
  }

  void check_migrated() {
    CHECK(mysql_column_type(*db, table, "k") == "bigint(20)");
    CHECK(mysql_table_exists(*db, "_" + table + "_old"));
    CHECK_FALSE(mysql_table_exists(*db, table + "_sluice_new"));
    CHECK(table_rows(*db, table, twin) == table_rows(*db, twin, table));
  }

  void check_untouched() {
    CHECK(mysql_column_type(*db, table, "k") == "int(11)");
    CHECK_FALSE(mysql_table_exists(*db, table + "_sluice_new"));
    CHECK_FALSE(mysql_table_exists(*db, "_" + table + "_old"));
    CHECK_FALSE(mysql_table_exists(*db, table + "_sluice_old"));
    CHECK(table_rows(*db, table, twin) == table_rows(*db, twin, table));
  }
};

}  // namespace

TEST_CASE("a throttle flag file pauses the copy until it is removed; nothing is lost") {
  ScratchDir scratch;
  scratch.touch("throttle");
  Migration run("ctl_throttle", 20000, {"--throttle-flag-file", scratch.file("throttle")});
  REQUIRE(run.reaches("paused"));
  // Several status events while the file exists: the copy does not move.
  REQUIRE(eventually(
      [&] {
        run.read_more();
        return status_events(run.sluice->out(), "paused").size() >= 4;
      },
      kLimit));
  for (const json& event : status_events(run.sluice->out(), "paused")) {
    CHECK(event["rows_copied"] == 0);
    CHECK(event["rows_per_second"] == 0.0);
    CHECK(event["throttle_reason"] == "throttle flag file " + scratch.file("throttle") + " exists");
  }
  CHECK(run.db->query_value("SELECT COUNT(*) FROM ctl_throttle_sluice_new") == "0");
  // The change stream is still read while paused: the application's changes pile up in
  // sluice (held for keys not copied yet), not in the server.
  const auto held = [&] {
    return status_events(run.sluice->out(), "paused").back()["changes_held"].get<std::uint64_t>();
  };
  const std::uint64_t held_before = held();
  REQUIRE(eventually(
      [&] {
        run.read_more();
        return held() > held_before;
      },
      kLimit));
  scratch.remove("throttle");
  REQUIRE(run.finish() == 0);
  const std::vector<json> all = events(run.sluice->out());
  CHECK(all.back()["event"] == "summary");
  CHECK(all.back()["rows_copied"].get<std::uint64_t>() >= 20000);
  run.check_migrated();
}

TEST_CASE("a postpone flag file holds the cut-over while changes keep being applied") {
  ScratchDir scratch;
  scratch.touch("postpone");
  Migration run("ctl_postpone", 5000,
                {"--postpone-cutover-flag-file", scratch.file("postpone"), "--throttle-flag-file",
                 scratch.file("throttle")});
  REQUIRE(run.reaches("waiting"));
  // Held: still the old schema, and the shadow table follows the application's writes.
  const std::uint64_t applied_before =
      status_events(run.sluice->out(), "waiting").front()["changes_applied"].get<std::uint64_t>();
  REQUIRE(eventually(
      [&] {
        run.read_more();
        const auto waiting = status_events(run.sluice->out(), "waiting");
        return waiting.back()["changes_applied"].get<std::uint64_t>() > applied_before;
      },
      kLimit));
  CHECK(mysql_column_type(*run.db, "ctl_postpone", "k") == "int(11)");
  CHECK(mysql_table_exists(*run.db, "ctl_postpone_sluice_new"));
  CHECK(status_events(run.sluice->out(), "waiting").back()["postpone_reason"] ==
        "postpone flag file " + scratch.file("postpone") + " exists");
  // A throttle file created now pauses the writes to the shadow table too.
  scratch.touch("throttle");
  REQUIRE(run.reaches("paused"));
  REQUIRE(eventually(
      [&] {
        run.read_more();
        return status_events(run.sluice->out(), "paused").size() >= 4;
      },
      kLimit));
  const auto paused = status_events(run.sluice->out(), "paused");
  for (std::size_t i = 1; i < paused.size(); ++i) {
    CHECK(paused[i]["changes_applied"] == paused[1]["changes_applied"]);
    CHECK(paused[i]["phase"] == "waiting");
  }
  const std::size_t waiting_before = status_events(run.sluice->out(), "waiting").size();
  scratch.remove("throttle");
  REQUIRE(eventually(
      [&] {
        run.read_more();
        return status_events(run.sluice->out(), "waiting").size() > waiting_before;
      },
      kLimit));
  scratch.remove("postpone");
  REQUIRE(run.finish() == 0);
  run.check_migrated();
}

TEST_CASE("a panic flag file aborts: exit code 7, the original table kept, nothing left") {
  ScratchDir scratch;
  scratch.touch("postpone");
  Migration run("ctl_panic", 5000,
                {"--postpone-cutover-flag-file", scratch.file("postpone"), "--panic-flag-file",
                 scratch.file("panic")});
  REQUIRE(run.reaches("waiting"));
  scratch.touch("panic");
  CHECK(run.finish() == 7);
  CHECK(run.sluice->out().find("\"state\":\"aborted\"") != std::string::npos);
  CHECK(run.sluice->out().find("panic flag file") != std::string::npos);
  run.check_untouched();
}

TEST_CASE("the control socket answers status json and steers the migration") {
  ScratchDir scratch;
  scratch.touch("postpone");
  const std::string socket = scratch.file("sluice.sock");
  Migration run("ctl_socket", 20000,
                {"--postpone-cutover-flag-file", scratch.file("postpone"), "--serve-socket-file",
                 socket, "--chunk-size", "100"});
  REQUIRE(run.sluice->wait_for("begin-copy", kLimit));
  struct stat info {};
  REQUIRE(::stat(socket.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  const json first = json::parse(ask(socket, "status json"));
  for (const char* field :
       {"phase", "state", "rows_copied", "rows_estimated", "percent", "rows_per_second",
        "eta_seconds", "changes_applied", "chunk_rows", "stream_lag_seconds", "throttle_reason",
        "postpone_reason", "chunk_rows_pinned", "nice_ratio", "max_load"}) {
    CAPTURE(field);
    CHECK(first.contains(field));
  }
  CHECK(first["table"] == "ctl_socket");
  CHECK(first["chunk_rows_pinned"] == 100);

  CHECK(ask(socket, "chunk-size=300") == "chunk size set to 300 rows\n");
  CHECK(json::parse(ask(socket, "status json"))["chunk_rows_pinned"] == 300);
  CHECK(ask(socket, "throttle").find("throttled") == 0);
  REQUIRE(eventually([&] { return json::parse(ask(socket, "status json"))["state"] == "paused"; },
                     kLimit));
  // Paused: several answers in a row show the same row count.
  const auto rows = json::parse(ask(socket, "status json"))["rows_copied"];
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(200ms);
    const json now = json::parse(ask(socket, "status json"));
    CHECK(now["state"] == "paused");
    CHECK(now["rows_copied"] == rows);
    CHECK(now["throttle_reason"] == "throttled through the control socket");
  }
  CHECK(ask(socket, "status").find("state: paused") == 0);
  CHECK(ask(socket, "no-throttle") == "resumed\n");
  CHECK(ask(socket, "nice-ratio=0.1") == "nice ratio set to 0.1\n");
  CHECK(ask(socket, "max-load=Threads_running=1000") == "max-load set to 'Threads_running=1000'\n");
  // A throttle query set over the socket pauses the copy until it is removed.
  CHECK(ask(socket, "throttle-query=SELECT 1") == "throttle query set to: SELECT 1\n");
  REQUIRE(eventually(
      [&] {
        const json now = json::parse(ask(socket, "status json"));
        return now["throttle_reason"] == "throttle query returned 1";
      },
      kLimit));
  CHECK(ask(socket, "throttle-query=") == "no throttle query\n");
  CHECK(ask(socket, "max-lag-millis=0") == "replica lag is no longer checked\n");
  CHECK(ask(socket, "critical-load=Threads_running=100000") ==
        "critical-load set to 'Threads_running=100000'\n");
  CHECK(ask(socket, "help").find("status json") != std::string::npos);
  CHECK(ask(socket, "bogus").find("error: unknown command") == 0);
  REQUIRE(eventually([&] { return json::parse(ask(socket, "status json"))["state"] == "waiting"; },
                     kLimit));
  CHECK(mysql_column_type(*run.db, "ctl_socket", "k") == "int(11)");
  CHECK(ask(socket, "cut-over") == "the cut-over no longer waits for the postpone flag file\n");
  REQUIRE(run.finish() == 0);
  run.check_migrated();
  CHECK_FALSE(std::filesystem::exists(socket));
}

TEST_CASE("the socket's panic aborts a paused copy") {
  ScratchDir scratch;
  scratch.touch("throttle");
  const std::string socket = scratch.file("sluice.sock");
  Migration run("ctl_sockpanic", 5000,
                {"--throttle-flag-file", scratch.file("throttle"), "--serve-socket-file", socket});
  REQUIRE(run.reaches("paused"));
  CHECK(ask(socket, "panic").find("aborting") == 0);
  CHECK(run.finish() == 7);
  run.check_untouched();
}

TEST_CASE(
    "hooks run with the migration in their environment; a failing before-cut-over hook "
    "postpones the cut-over") {
  ScratchDir scratch;
  std::filesystem::create_directory(scratch.file("hooks"));
  const auto hook = [&](const std::string& name, const std::string& body) {
    const std::string path = scratch.file("hooks/" + name);
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0700);
  };
  const std::string log = scratch.file("hooks.log");
  hook("on-startup", "echo \"startup $SLUICE_TABLE\" >> " + log);
  hook("on-rowcount-complete", "echo \"rowcount $SLUICE_ROWS_ESTIMATED\" >> " + log);
  hook("on-begin-copy", "echo begin-copy >> " + log);
  hook("on-status", "echo \"status $SLUICE_PHASE\" >> " + log);
  hook("on-before-cut-over",
       "echo before-cut-over >> " + log + "; test -e " + scratch.file("allow"));
  hook("on-success", "echo \"success $SLUICE_ROWS_COPIED $SLUICE_WRITE_BLOCK_MS\" >> " + log);
  Migration run("ctl_hooks", 3000, {"--hooks-path", scratch.file("hooks")});
  REQUIRE(run.reaches("waiting"));
  REQUIRE(eventually(
      [&] {
        run.read_more();
        const auto waiting = status_events(run.sluice->out(), "waiting");
        return !waiting.empty() && waiting.back()["postpone_reason"].is_string() &&
               waiting.back()["postpone_reason"].get<std::string>().find(
                   "on-before-cut-over hook failed") != std::string::npos;
      },
      kLimit));
  CHECK(mysql_column_type(*run.db, "ctl_hooks", "k") == "int(11)");
  scratch.touch("allow");
  REQUIRE(run.finish() == 0);
  run.check_migrated();
  std::ifstream file(log);
  std::stringstream text;
  text << file.rdbuf();
  INFO(text.str());
  CHECK(text.str().find("startup ctl_hooks\n") == 0);
  CHECK(text.str().find("rowcount ") != std::string::npos);
  CHECK(text.str().find("begin-copy\n") != std::string::npos);
  CHECK(text.str().find("status waiting\n") != std::string::npos);
  // Run again after failing: at least twice.
  const std::string all = text.str();
  CHECK(all.find("before-cut-over\n") != all.rfind("before-cut-over\n"));
  CHECK(text.str().find("success ") != std::string::npos);
}

TEST_CASE("a failing on-startup hook stops sluice before anything is created; on-failure runs") {
  ScratchDir scratch;
  std::filesystem::create_directory(scratch.file("hooks"));
  const std::string startup = scratch.file("hooks/on-startup");
  std::ofstream(startup) << "#!/bin/sh\nexit 1\n";
  ::chmod(startup.c_str(), 0700);
  const std::string failure = scratch.file("hooks/on-failure");
  std::ofstream(failure) << "#!/bin/sh\necho \"$SLUICE_EXIT_CODE $SLUICE_ERROR\" > "
                         << scratch.file("failure.log") << "\n";
  ::chmod(failure.c_str(), 0700);
  auto db = mysql_admin();
  create_typed_table(*db, "ctl_nostart", "ctl_nostart_twin", 10, false);
  const RunResult result =
      run_sluice({"alter", "--dsn", dsn(), "--table", "ctl_nostart", "--alter", "MODIFY k BIGINT",
                  "--execute", "--hooks-path", scratch.file("hooks")});
  CHECK(result.exit_code == 7);
  CHECK(result.err.find("on-startup hook failed") != std::string::npos);
  CHECK_FALSE(mysql_table_exists(*db, "ctl_nostart_sluice_new"));
  std::ifstream file(scratch.file("failure.log"));
  std::string line;
  std::getline(file, line);
  CHECK(line.find("7 the on-startup hook failed") == 0);
}

TEST_CASE("--max-load pauses on a real status variable until the limit is raised") {
  ScratchDir scratch;
  const std::string socket = scratch.file("sluice.sock");
  // Threads_running counts the probe's own query: a limit of 0 always throttles.
  Migration run("ctl_maxload", 5000,
                {"--max-load", "Threads_running=0", "--serve-socket-file", socket});
  REQUIRE(run.reaches("paused"));
  const auto paused = status_events(run.sluice->out(), "paused");
  CHECK(paused.back()["throttle_reason"].get<std::string>().find("max-load Threads_running=") == 0);
  CHECK(ask(socket, "max-load=Threads_running=100000").find("max-load set") == 0);
  REQUIRE(run.finish() == 0);
  run.check_migrated();
}

TEST_CASE("--critical-load aborts; a misnamed status variable is refused before anything runs") {
  {
    // Critical from the start: refused before anything is created.
    Migration run("ctl_critical", 3000, {"--critical-load", "Threads_running=0"});
    CHECK(run.finish() == 7);
    CHECK(run.sluice->out().find("critical-load Threads_running=") != std::string::npos);
    run.check_untouched();
  }
  {
    // Critical once the copy runs: the socket lowers the limit of a running migration.
    ScratchDir scratch;
    const std::string socket = scratch.file("sluice.sock");
    scratch.touch("postpone");
    Migration run("ctl_critical2", 5000,
                  {"--critical-load", "Threads_running=100000", "--serve-socket-file", socket,
                   "--postpone-cutover-flag-file", scratch.file("postpone")});
    REQUIRE(run.reaches("waiting"));
    CHECK(ask(socket, "critical-load=Threads_running=0").find("critical-load set") == 0);
    CHECK(run.finish() == 7);
    CHECK(run.sluice->out().find("critical-load Threads_running=") != std::string::npos);
    run.check_untouched();
  }
  auto db = mysql_admin();
  create_typed_table(*db, "ctl_typo", "ctl_typo_twin", 10, false);
  const RunResult result =
      run_sluice({"alter", "--dsn", dsn(), "--table", "ctl_typo", "--alter", "MODIFY k BIGINT",
                  "--execute", "--max-load", "Threads_runing=10"});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("no status variable 'Threads_runing'") != std::string::npos);
  CHECK_FALSE(mysql_table_exists(*db, "ctl_typo_sluice_new"));
}

TEST_CASE("--throttle-query pauses while it returns more than 0") {
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS ctl_gate");
  db->execute("CREATE TABLE ctl_gate (closed INT NOT NULL)");
  db->execute("INSERT INTO ctl_gate VALUES (1)");
  Migration run("ctl_query", 5000, {"--throttle-query", "SELECT MAX(closed) FROM ctl_gate"});
  REQUIRE(run.reaches("paused"));
  CHECK(status_events(run.sluice->out(), "paused").back()["throttle_reason"] ==
        "throttle query returned 1");
  db->execute("UPDATE ctl_gate SET closed = 0");
  REQUIRE(run.finish() == 0);
  run.check_migrated();
  db->execute("DROP TABLE ctl_gate");
}

TEST_CASE("--max-lag-millis throttles on a server that is not replicating") {
  ScratchDir scratch;
  const std::string socket = scratch.file("sluice.sock");
  // The primary itself has no replication running: its lag is unknown, which throttles.
  Migration run("ctl_lag", 3000,
                {"--max-lag-millis", "1000", "--throttle-control-replicas", dsn(),
                 "--serve-socket-file", socket});
  REQUIRE(run.reaches("paused"));
  CHECK(status_events(run.sluice->out(), "paused")
            .back()["throttle_reason"]
            .get<std::string>()
            .find("is not replicating") != std::string::npos);
  ask(socket, "panic");
  CHECK(run.finish() == 7);
  run.check_untouched();
}

TEST_CASE("options come from --config; the command line wins") {
  ScratchDir scratch;
  auto db = mysql_admin();
  create_typed_table(*db, "ctl_config", "ctl_config_twin", 10, false);
  std::ofstream(scratch.file("sluice.ini")) << "dsn = " << dsn()
                                            << "\ntable = ctl_config\nalter = MODIFY k BIGINT\n"
                                               "chunk-time = nonsense\n";
  RunResult bad = run_sluice({"alter", "--config", scratch.file("sluice.ini")});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("sluice.ini") != std::string::npos);
  RunResult dry =
      run_sluice({"alter", "--config", scratch.file("sluice.ini"), "--chunk-time", "100"});
  INFO(dry.err);
  CHECK(dry.exit_code == 0);
  CHECK(dry.out.find("dry run: nothing was changed") != std::string::npos);
}

TEST_CASE("the load probe's session, killed on the server, is opened again at the next probe") {
  auto admin = mysql_admin();
  std::unique_ptr<sluice::LoadProbe> probe =
      sluice::server_family(sluice::ServerKind::mysql)
          .load_probe(sluice::parse_dsn(dsn()), std::nullopt, {});
  // Kill the probe's session while it runs a throttle query that names itself.
  std::thread killer([&] {
    for (int i = 0; i < 200; ++i) {
      const std::optional<std::string> id = admin->query_value(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%sluice-probe-marker%' "
          "AND ID <> CONNECTION_ID()");
      if (id) {
        admin->execute("KILL CONNECTION " + *id);
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  CHECK_THROWS_AS(probe->throttle_query("SELECT SLEEP(30) /* sluice-probe-marker */"),
                  sluice::Error);
  killer.join();
  CHECK(probe->throttle_query("SELECT 1") == 1);
}

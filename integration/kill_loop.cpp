#include "integration/kill_loop.h"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <random>
#include <thread>

#include "integration/faults.h"
#include "integration/support.h"

namespace sluice::test {
namespace {

using std::chrono::milliseconds;

// Where a trial kills the first run: after the log line `marker` plus a random delay of up to
// `spread`, so the kill lands in the middle of that step (a chunk copy and applier flushes, the
// checksum pass, the catch-up and swap, the moment after the swap).
struct Moment {
  const char* step;
  const char* marker;
  milliseconds spread;
};

constexpr Moment kMoments[] = {
    {"copy", "copying about", milliseconds(800)},
    {"verify", "verification blocked writes for", milliseconds(150)},
    // A debug line written while the cut-over holds the write lock.
    {"cut-over", "cut-over: writes blocked", milliseconds(10)},
    {"after the swap", "cut-over done", milliseconds(15)},
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The original table answers reads and takes the writer's writes.
void check_table_alive(const KillLoopServer& server, const KillLoopServer::Writer& writer) {
  const std::uint64_t before = writer.transactions();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (writer.transactions() <= before + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  CHECK_MESSAGE(writer.transactions() > before + 2, "the writer stalled after a kill");
  (void)server;
}

// Kills the process with SIGKILL after `delay` (unless it exited by itself) and returns its exit
// code, with its output collected.
int kill_after(SluiceProcess& process, milliseconds delay) {
  std::this_thread::sleep_for(delay);
  const int code = process.stop(SIGKILL);
  process.read_lines(std::numeric_limits<std::size_t>::max(), milliseconds(500));
  return code;
}

}  // namespace

int kill_loop_trials() {
  const char* long_suite = std::getenv("SLUICE_LONG_SUITE");
  return long_suite && std::string(long_suite) == "1" ? 20 : 4;
}

void kill_loop_trial(const KillLoopServer& server, int trial, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  const Moment& moment = kMoments[static_cast<std::size_t>(trial) % std::size(kMoments)];
  const std::string table = "kl_" + std::to_string(trial);
  std::string name = "kl-" + std::to_string(trial);
  forget_run(server.kind, server.dsn, name);
  server.create_table(table, server.rows);
  std::unique_ptr<KillLoopServer::Writer> writer = server.start_writer(table);
  const milliseconds delay(std::uniform_int_distribution<long>(0, moment.spread.count())(random));
  const std::string chunk_time = random() % 2 == 0 ? "10" : "40";
  INFO("trial " << trial << ": kill in " << std::string(moment.step) << ", " << delay.count()
                << " ms after the marker, seed " << seed);

  std::string log;
  int first_exit = -1;
  {
    // Debug lines mark the moments inside the cut-over; the child inherits the setting.
    setenv("SPDLOG_LEVEL", "debug", 1);
    SluiceProcess run({"alter", "--dsn", server.dsn, "--table", table, "--alter", server.alter,
                       "--execute", "--name", name, "--chunk-time", chunk_time},
                      /*with_stderr=*/true);
    unsetenv("SPDLOG_LEVEL");
    REQUIRE(run.wait_for(moment.marker, std::chrono::seconds(90)));
    const int code = kill_after(run, delay);
    first_exit = code;
    log += run.out();
    // The run may have finished just before the kill.
    CHECK((code == 128 + SIGKILL || code == 0));
  }
  check_table_alive(server, *writer);

  bool done = false;
  int resumes = 0;
  int resumes_killed = 0;
  for (int attempt = 0; attempt < 8 && !done; ++attempt) {
    const std::string phase = run_phase(server.dsn, name);
    if (phase == "switched") {
      done = true;  // killed after recording the swap: only what cleanup removes may be left
      break;
    }
    // No lease is expired by hand: the killed runner is gone from this host, so --resume takes
    // over at once.
    // Every other resume is killed too, at a random moment.
    const bool kill_again = attempt < 3 && random() % 2 == 0;
    SluiceProcess resume({"alter", "--dsn", server.dsn, "--resume", name}, /*with_stderr=*/true);
    ++resumes;
    int code = -1;
    if (kill_again) {
      code = kill_after(resume, milliseconds(std::uniform_int_distribution<long>(0, 1500)(random)));
    } else {
      code = resume.wait(std::chrono::seconds(120));
    }
    log += "\n--- resume " + std::to_string(attempt) + " (exit " + std::to_string(code) + ")\n" +
           resume.out();
    if (code == 0) {
      done = true;
    } else if (code == 128 + SIGKILL) {
      ++resumes_killed;
      check_table_alive(server, *writer);
    } else if (code == 5 && contains(resume.out(), "has no checkpoint")) {
      // Killed before its first chunk: nothing to resume from. Start over, as the error says.
      RunResult cleanup = run_sluice({"cleanup", "--dsn", server.dsn, "--table", table});
      REQUIRE_MESSAGE(cleanup.exit_code == 0, cleanup.err);
      name += "-again";
      forget_run(server.kind, server.dsn, name);
      RunResult fresh = run_sluice({"alter", "--dsn", server.dsn, "--table", table, "--alter",
                                    server.alter, "--execute", "--name", name});
      log += "\n--- started over (exit " + std::to_string(fresh.exit_code) + ")\n" + fresh.err;
      done = fresh.exit_code == 0;
    } else {
      break;
    }
  }
  writer->stop();
  if (done) {
    MESSAGE("trial " << trial << ": " << std::string(moment.step) << ", " << delay.count()
                     << " ms after its marker: "
                     << std::string(first_exit == 0 ? "finished before the kill" : "killed") << "; "
                     << resumes << " resumes (" << resumes_killed << " of them killed)");
  }
  INFO(log);
  REQUIRE(done);
  // A run killed after recording its swap may leave its slot and publication (PostgreSQL):
  // exactly what sluice cleanup removes.
  RunResult cleanup = run_sluice({"cleanup", "--dsn", server.dsn, "--table", table});
  CHECK_MESSAGE(cleanup.exit_code == 0, cleanup.err);
  CHECK(server.leftovers(table).empty());
  server.check_equal(table);
}

}  // namespace sluice::test

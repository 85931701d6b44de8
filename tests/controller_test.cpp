#include "src/controller.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using sluice::Controller;
using sluice::ControllerSettings;
using sluice::MigrationStatus;
using sluice::RunStep;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/sluice-controller-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  void touch(const std::string& name) const { std::ofstream(file(name)) << ""; }
};

// Waits (generously) for `done`; the tests never assert durations.
template <typename Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

ControllerSettings quiet_settings() {
  ControllerSettings settings;
  settings.progress.interval = 1h;
  return settings;
}

}  // namespace

TEST_CASE("a throttle flag file holds the copy, keeps the stream read without flushing") {
  TempDir dir;
  ControllerSettings settings = quiet_settings();
  settings.throttle.throttle_flag_file = dir.file("throttle");
  std::ostringstream out;
  Controller controller(settings, nullptr, out);
  controller.start("t");
  dir.touch("throttle");

  MigrationStatus status;
  status.step = RunStep::copy;
  std::atomic<int> reads{0};
  std::atomic<int> flushes{0};
  std::atomic<bool> released{false};
  std::thread copy([&] {
    controller.wait_while_throttled(status, [&](bool flush) {
      ++reads;
      flushes += flush ? 1 : 0;
    });
    released = true;
  });
  CHECK(eventually([&] { return reads >= 3; }));
  CHECK_FALSE(released);
  CHECK(controller.handle_command("status json").find("\"state\":\"paused\"") != std::string::npos);
  std::filesystem::remove(dir.file("throttle"));
  CHECK(eventually([&] { return released.load(); }));
  copy.join();
  CHECK(flushes == 0);
  CHECK(status.throttle_reason.empty());
}

TEST_CASE("the socket's throttle, chunk size and nice ratio reach the migration") {
  std::ostringstream out;
  Controller controller(quiet_settings(), nullptr, out);
  controller.start("t");
  CHECK(controller.handle_command("chunk-size=250") == "chunk size set to 250 rows");
  CHECK(controller.chunk_rows() == 250u);
  CHECK(controller.handle_command("chunk-size=auto") == "chunk size follows the chunk time again");
  CHECK_FALSE(controller.chunk_rows());
  CHECK(controller.handle_command("nice-ratio=0.5") == "nice ratio set to 0.5");
  CHECK(controller.handle_command("bogus").rfind("error: unknown command", 0) == 0);

  controller.handle_command("throttle");
  MigrationStatus status;
  std::atomic<bool> released{false};
  std::atomic<int> reads{0};
  std::thread copy([&] {
    controller.wait_while_throttled(status, [&](bool) { ++reads; });
    released = true;
  });
  CHECK(eventually([&] { return reads >= 2; }));
  CHECK_FALSE(released);
  CHECK(controller.handle_command("no-throttle") == "resumed");
  CHECK(eventually([&] { return released.load(); }));
  copy.join();

  controller.handle_command("panic");
  CHECK(controller.abort_reason() == "panic requested through the control socket");
}

TEST_CASE("the cut-over waits for the postpone file, the socket's cut-over and the hook") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("hooks"));
  const std::string hook = dir.file("hooks/on-before-cut-over");
  // Fails until the test creates the file `allow`.
  std::ofstream(hook) << "#!/bin/sh\ntest -e " << dir.file("allow") << "\n";
  ::chmod(hook.c_str(), 0700);

  ControllerSettings settings = quiet_settings();
  settings.throttle.postpone_flag_file = dir.file("postpone");
  settings.hooks_path = dir.file("hooks");
  std::ostringstream out;
  Controller controller(settings, nullptr, out);
  controller.start("t");
  dir.touch("postpone");

  MigrationStatus status;
  status.step = RunStep::verify;
  std::atomic<int> flushes{0};
  std::atomic<bool> released{false};
  std::thread wait([&] {
    controller.wait_for_cut_over(status, [&](bool flush) { flushes += flush ? 1 : 0; });
    released = true;
  });
  // Changes keep being applied while the cut-over is held.
  CHECK(eventually([&] { return flushes >= 3; }));
  CHECK(controller.handle_command("status json").find("\"state\":\"waiting\"") !=
        std::string::npos);
  controller.handle_command("cut-over");  // overrides the file, but the hook still fails
  CHECK(eventually([&] {
    return controller.handle_command("status").find("on-before-cut-over hook failed") !=
           std::string::npos;
  }));
  CHECK_FALSE(released);
  dir.touch("allow");
  CHECK(eventually([&] { return released.load(); }));
  wait.join();
  CHECK(status.step == RunStep::verify);
  CHECK(status.postpone_reason.empty());
}

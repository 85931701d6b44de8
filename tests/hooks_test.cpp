#include "src/hooks.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace std::chrono_literals;

namespace {

// A fresh directory with one hook script.
struct HookDir {
  std::string path;
  HookDir() {
    char name[] = "/tmp/sluice-hooks-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~HookDir() { std::filesystem::remove_all(path); }
  void add(const std::string& name, const std::string& script, bool executable = true) {
    const std::string file = path + "/" + name;
    std::ofstream(file) << "#!/bin/sh\n" << script << "\n";
    ::chmod(file.c_str(), executable ? 0700 : 0600);
  }
  std::string read(const std::string& name) const {
    std::ifstream file(path + "/" + name);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
};

}  // namespace

TEST_CASE("a hook runs with the SLUICE_ variables and its exit code decides") {
  HookDir dir;
  dir.add("on-startup", "echo \"$SLUICE_TABLE $SLUICE_HOOK\" > \"$(dirname \"$0\")/out\"");
  dir.add("on-before-cut-over", "exit 3");
  sluice::Hooks hooks(dir.path, 10s);
  CHECK(hooks.run("on-startup", {{"SLUICE_TABLE", "orders"}, {"SLUICE_HOOK", "on-startup"}}));
  CHECK(dir.read("out") == "orders on-startup\n");
  CHECK_FALSE(hooks.run("on-before-cut-over", {}));
  CHECK(hooks.run("on-success", {}));  // no such hook: nothing to fail
}

TEST_CASE("a hook past its time limit is killed and fails; a non-executable one fails") {
  HookDir dir;
  dir.add("on-status", "sleep 30");
  dir.add("on-success", "exit 0", false);
  sluice::Hooks hooks(dir.path, 200ms);
  CHECK_FALSE(hooks.run("on-status", {}));
  CHECK_FALSE(hooks.run("on-success", {}));
}

TEST_CASE("without a hooks directory nothing runs") {
  sluice::Hooks hooks("", 1s);
  CHECK(hooks.run("on-startup", {}));
}

TEST_CASE("a hook never gets the password variables of sluice's environment") {
  HookDir dir;
  dir.add("on-startup", "env > \"$(dirname \"$0\")/env\"");
  ::setenv("MYSQL_PWD", "Hook-secret-mysql", 1);
  ::setenv("PGPASSWORD", "Hook-secret-pg", 1);
  ::setenv("SLUICE_HOOKS_TEST_KEPT", "kept", 1);
  sluice::Hooks hooks(dir.path, 10s);
  const bool ran = hooks.run("on-startup", {{"SLUICE_TABLE", "orders"}});
  ::unsetenv("MYSQL_PWD");
  ::unsetenv("PGPASSWORD");
  ::unsetenv("SLUICE_HOOKS_TEST_KEPT");
  REQUIRE(ran);
  const std::string env = dir.read("env");
  CHECK(env.find("SLUICE_TABLE=orders") != std::string::npos);
  CHECK(env.find("SLUICE_HOOKS_TEST_KEPT=kept") != std::string::npos);
  CHECK(env.find("Hook-secret") == std::string::npos);
  CHECK(env.find("MYSQL_PWD") == std::string::npos);
  CHECK(env.find("PGPASSWORD") == std::string::npos);
}

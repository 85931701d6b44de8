#include "src/hooks.h"

#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

// Variables that carry the database password into sluice. A hook is the user's code, often a
// chat or monitoring notifier that logs its environment: it never gets the password.
bool is_password_variable(const std::string& name) {
  return name == "MYSQL_PWD" || name == "PGPASSWORD";
}

// The process environment without passwords, with `extra` set on top (replacing variables of
// the same name).
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> merged;
  for (char** variable = environ; *variable; ++variable) {
    const std::string entry = *variable;
    const std::string name = entry.substr(0, entry.find('='));
    if (!extra.contains(name) && !is_password_variable(name)) {
      merged.push_back(entry);
    }
  }
  for (const auto& [name, value] : extra) {
    merged.push_back(name + "=" + value);
  }
  return merged;
}

}  // namespace

Hooks::Hooks(std::string dir, std::chrono::milliseconds time_limit)
    : dir_(std::move(dir)), time_limit_(time_limit) {}

bool Hooks::run(const std::string& event,
                const std::map<std::string, std::string>& environment) const {
  if (dir_.empty()) {
    return true;
  }
  const std::string path = dir_ + "/" + event;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return true;
  }
  if (!S_ISREG(info.st_mode) || ::access(path.c_str(), X_OK) != 0) {
    spdlog::error("hook {} is not an executable file; make it one (chmod +x) or remove it", path);
    return false;
  }
  std::vector<std::string> env = merged_environment(environment);
  std::vector<char*> envp;
  for (std::string& entry : env) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::string program = path;
  char* argv[] = {program.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so the time limit also ends whatever the hook started.
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, path.c_str(), &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    spdlog::error("hook {} could not start: {}", path, std::strerror(spawned));
    return false;
  }
  const auto deadline = Clock::now() + time_limit_;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      spdlog::error("hook {} ran longer than its {} ms limit and was killed", path,
                    time_limit_.count());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    spdlog::debug("hook {} succeeded", path);
    return true;
  }
  if (WIFEXITED(status)) {
    spdlog::warn("hook {} failed with exit code {}", path, WEXITSTATUS(status));
  } else {
    spdlog::warn("hook {} was killed by signal {}", path, WTERMSIG(status));
  }
  return false;
}

}  // namespace sluice

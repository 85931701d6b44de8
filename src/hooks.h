#pragma once

#include <chrono>
#include <map>
#include <string>

namespace sluice {

// Runs the user's hook executables: DIR/<event> (on-startup, on-rowcount-complete,
// on-begin-copy, on-status, on-before-cut-over, on-success, on-failure) when it exists, with the
// migration described in SLUICE_* environment variables on top of sluice's own environment
// (without MYSQL_PWD and PGPASSWORD: hooks never see the database password).
// A hook's stdout goes to sluice's stderr (sluice's stdout stays parseable with --json). A hook
// still running at the time limit is killed with its process group and counts as failed.
class Hooks {
 public:
  // An empty `dir` runs nothing.
  Hooks(std::string dir, std::chrono::milliseconds time_limit);

  // Runs DIR/`event` and waits for it. Returns true when it exited 0 or does not exist; false
  // (logging why) when it failed, timed out or could not start.
  bool run(const std::string& event, const std::map<std::string, std::string>& environment) const;

 private:
  std::string dir_;
  std::chrono::milliseconds time_limit_;
};

}  // namespace sluice

#pragma once

#include <string>
#include <vector>

namespace sluice::cli {

// A sub-command's entry point: receives the arguments after the sub-command's name and returns
// the process exit code. Errors reach the caller as sluice::Error (or Boost's option errors).
using CommandFunction = int (*)(const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* summary;
  CommandFunction run;
};

int run_check(const std::vector<std::string>& args);
int run_alter(const std::vector<std::string>& args);
int run_cleanup(const std::vector<std::string>& args);
int run_revert(const std::vector<std::string>& args);
int run_stream(const std::vector<std::string>& args);
int run_slots(const std::vector<std::string>& args);
int run_status(const std::vector<std::string>& args);
int run_plan(const std::vector<std::string>& args);
int run_expand(const std::vector<std::string>& args);
int run_backfill(const std::vector<std::string>& args);
int run_verify(const std::vector<std::string>& args);
int run_switch(const std::vector<std::string>& args);
int run_contract(const std::vector<std::string>& args);
int run_abort(const std::vector<std::string>& args);
int run_run(const std::vector<std::string>& args);
int run_restore(const std::vector<std::string>& args);

}  // namespace sluice::cli

#include "src/preflight.h"

#include <algorithm>

#include "src/error.h"

namespace sluice {

bool PreflightReport::can_migrate() const {
  return std::none_of(checks.begin(), checks.end(),
                      [](const CheckResult& check) { return check.status == CheckStatus::fail; });
}

void PreflightReport::pass(std::string name, std::string message) {
  checks.push_back({std::move(name), CheckStatus::pass, std::move(message), {}});
}

void PreflightReport::warn(std::string name, std::string message, std::string fix) {
  checks.push_back({std::move(name), CheckStatus::warn, std::move(message), std::move(fix)});
}

void PreflightReport::fail(std::string name, std::string message, std::string fix) {
  checks.push_back({std::move(name), CheckStatus::fail, std::move(message), std::move(fix)});
}

void PreflightReport::refuse_unless_ready(std::string_view except) const {
  for (const CheckResult& check : checks) {
    if (check.status == CheckStatus::fail && check.name != except) {
      throw Error(ExitCode::preflight_failed,
                  "cannot migrate " + table + " online: " + check.message + "; fix: " + check.fix +
                      " (sluice check lists every precondition)");
    }
  }
}

const char* to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass:
      return "pass";
    case CheckStatus::warn:
      return "warn";
    case CheckStatus::fail:
      return "fail";
  }
  return "?";
}

}  // namespace sluice

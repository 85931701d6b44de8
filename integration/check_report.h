#pragma once

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "integration/support.h"

namespace sluice::test {

// `sluice check --json` on one table, parsed.
struct CheckReport {
  int exit_code = -1;
  nlohmann::json json;
  std::string err;

  // The status ("pass"/"warn"/"fail") of the named check, or "" when it was not reported.
  std::string status(const std::string& name) const {
    for (const nlohmann::json& check : json.value("checks", nlohmann::json::array())) {
      if (check.value("name", "") == name) {
        return check.value("status", "");
      }
    }
    return "";
  }

  std::string message(const std::string& name) const {
    for (const nlohmann::json& check : json.value("checks", nlohmann::json::array())) {
      if (check.value("name", "") == name) {
        return check.value("message", "") + " / " + check.value("fix", "");
      }
    }
    return "";
  }
};

inline CheckReport run_check(const std::string& dsn, const std::string& table,
                             const std::map<std::string, std::string>& env = {}) {
  RunResult run = run_sluice({"check", "--dsn", dsn, "--table", table, "--json"}, env);
  CheckReport report;
  report.exit_code = run.exit_code;
  report.err = run.err;
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE_FALSE(run.out.empty());
  report.json = nlohmann::json::parse(run.out);
  return report;
}

// `sluice check` and `sluice alter --execute` (with `alter`, a change that copies the table) on
// one table must agree: both go ahead, or both refuse with exit code 5 and alter names the
// reason of check's first failed check. A check alter refuses only for a rebuild (a key
// PostgreSQL cannot match rows by) is a warning of check's: `warned` names it.
inline void require_agreement(const std::string& dsn, const std::string& table,
                              const std::string& alter,
                              const std::map<std::string, std::string>& env = {},
                              const std::string& warned = "") {
  const CheckReport check = run_check(dsn, table, env);
  const RunResult run =
      run_sluice({"alter", "--dsn", dsn, "--table", table, "--alter", alter, "--execute"}, env);
  INFO("check: " << check.json.dump(2) << "\nalter: " << run.out << run.err);
  std::string reason;
  for (const nlohmann::json& item : check.json.value("checks", nlohmann::json::array())) {
    const bool counts = item.value("status", "") == "fail" ||
                        (item.value("status", "") == "warn" && item.value("name", "") == warned);
    if (counts && reason.empty()) {
      reason = item.value("message", "");
    }
  }
  if (reason.empty()) {
    CHECK(check.exit_code == 0);
    CHECK(run.exit_code == 0);
    return;
  }
  CHECK(check.exit_code == (warned.empty() ? 5 : 0));
  CHECK(run.exit_code == 5);
  CHECK(run.err.find(reason) != std::string::npos);
}

}  // namespace sluice::test

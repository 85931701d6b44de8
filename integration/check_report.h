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

}  // namespace sluice::test

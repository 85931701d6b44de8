#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "src/error.h"
#include "src/server_family.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

const char* label(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass:
      return "PASS";
    case CheckStatus::warn:
      return "WARN";
    case CheckStatus::fail:
      return "FAIL";
  }
  return "?";
}

void print_human(const Dsn& dsn, const PreflightReport& report) {
  std::cout << "sluice check " << report.table << " on " << dsn.display() << " (" << report.server
            << ")\n\n";
  std::size_t width = 0;
  for (const CheckResult& check : report.checks) {
    width = std::max(width, check.name.size());
  }
  for (const CheckResult& check : report.checks) {
    std::cout << "  " << label(check.status) << "  " << check.name
              << std::string(width - check.name.size() + 2, ' ') << check.message << '\n';
    if (!check.fix.empty()) {
      std::cout << std::string(width + 10, ' ') << "fix: " << check.fix << '\n';
    }
  }
  std::size_t failed = 0;
  for (const CheckResult& check : report.checks) {
    failed += check.status == CheckStatus::fail ? 1 : 0;
  }
  std::cout << '\n';
  if (failed == 0) {
    std::cout << "ready: " << report.table << " can be migrated online.\n";
  } else {
    std::cout << "not ready: " << failed << (failed == 1 ? " check fails" : " checks fail")
              << "; fix " << (failed == 1 ? "it" : "them") << " and run sluice check again.\n";
  }
}

void print_json(const Dsn& dsn, const PreflightReport& report) {
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const CheckResult& check : report.checks) {
    checks.push_back({{"name", check.name},
                      {"status", to_string(check.status)},
                      {"message", check.message},
                      {"fix", check.fix}});
  }
  nlohmann::ordered_json out = {{"dsn", dsn.display()},
                                {"server", report.server},
                                {"table", report.table},
                                {"ready", report.can_migrate()},
                                {"checks", checks}};
  std::cout << out.dump() << '\n';
}

}  // namespace

int run_check(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string table;
  bool json = false;
  po::options_description description("sluice check options");
  connection.add_to(description);
  description.add_options()("table", po::value(&table)->required(),
                            "table to check: name or schema.name (MySQL: database.name)")(
      "json", po::bool_switch(&json), "print one JSON object instead of text");
  if (!parse_options(args, description, "sluice check --dsn URL --table NAME [--json]")) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  const PreflightReport report =
      server_family(dsn.kind).preflight(dsn, connection.resolve_password(dsn), table);
  if (json) {
    print_json(dsn, report);
  } else {
    print_human(dsn, report);
  }
  return static_cast<int>(report.can_migrate() ? ExitCode::ok : ExitCode::preflight_failed);
}

}  // namespace sluice::cli

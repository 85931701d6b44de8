#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

enum class CheckStatus { pass, warn, fail };

// One precondition of an online migration, as `sluice check` reports it.
struct CheckResult {
  std::string name;  // stable identifier scripts can match on, e.g. "binlog_format"
  CheckStatus status = CheckStatus::pass;
  std::string message;  // one sentence: what was found
  std::string fix;      // one sentence: what to do about it (empty on pass)
};

// The check that finds what an earlier run of the table left (its shadow table, sentry or slot),
// which a resumed run adopts instead.
constexpr std::string_view kLeftoversCheck = "leftovers";

// Everything `sluice check` found about one table on one server.
struct PreflightReport {
  std::string server;  // "MariaDB 10.11.19" / "PostgreSQL 15.18"
  std::string table;   // quoted, schema-qualified
  std::vector<CheckResult> checks;

  // True when no check failed: a migration could start.
  bool can_migrate() const;
  // Adds a passing check.
  void pass(std::string name, std::string message);
  // Adds a warning: the migration can run, but the user should know.
  void warn(std::string name, std::string message, std::string fix = {});
  // Adds a blocker.
  void fail(std::string name, std::string message, std::string fix);
  // Throws Error(ExitCode::preflight_failed) naming the first failed check and its fix; a check
  // named `except` does not count (a resumed run's own shadow table is not a leftover).
  void refuse_unless_ready(std::string_view except = {}) const;
};

const char* to_string(CheckStatus status);

}  // namespace sluice

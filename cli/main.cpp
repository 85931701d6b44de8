#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "cli/command.h"
#include "src/error.h"
#include "src/server_errors.h"

namespace {

using sluice::cli::Command;

constexpr Command kCommands[] = {
    {"check", "report whether a table can be migrated online (settings, privileges, keys)",
     sluice::cli::run_check},
    {"alter", "change a table's schema online (dry run unless --execute)", sluice::cli::run_alter},
    {"revert", "undo a sluice alter run after its cut-over, keeping every write made since",
     sluice::cli::run_revert},
    {"cleanup",
     "remove what a crashed alter left behind (shadow table, sentry; PostgreSQL: slot, "
     "publication)",
     sluice::cli::run_cleanup},
    {"stream", "print the row changes of one table live, as the change log delivers them",
     sluice::cli::run_stream},
    {"slots", "list sluice's PostgreSQL replication slots and the WAL they hold; drop leftovers",
     sluice::cli::run_slots},
    {"status", "list recorded migrations and their phases (--json for scripts)",
     sluice::cli::run_status},
    {"plan", "print each phase of a migration file: its SQL and what the application must do",
     sluice::cli::run_plan},
    {"expand", "add the new schema next to the old (a migration file's first phase)",
     sluice::cli::run_expand},
    {"backfill", "fill the new schema from the old in throttled, resumable batches",
     sluice::cli::run_backfill},
    {"verify", "check that old and new schema agree on every row", sluice::cli::run_verify},
    {"switch", "verify, then make the new schema the one the application relies on",
     sluice::cli::run_switch},
    {"contract", "drop the old schema after the grace period, once old clients are gone",
     sluice::cli::run_contract},
    {"abort", "undo an expand before its switch", sluice::cli::run_abort},
    {"run", "advance every migration file of a directory as far as its phase rules allow",
     sluice::cli::run_run},
    {"restore", "load an archive written by contract --archive back into its table",
     sluice::cli::run_restore},
};

void print_usage() {
  std::cout << "sluice " SLUICE_VERSION
               " - online schema changes for MySQL/MariaDB and "
               "PostgreSQL\n\nusage: sluice <command> [options]\n\ncommands:\n";
  for (const Command& command : kCommands) {
    std::cout << "  " << command.name
              << std::string(10 - std::string_view(command.name).size(), ' ') << command.summary
              << '\n';
  }
  std::cout << "\nRun 'sluice <command> --help' for the options of one command.\n";
}

void configure_logging() {
  auto logger = spdlog::stderr_color_mt("sluice");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  // SPDLOG_LEVEL=debug shows the steps behind each event (e.g. the cut-over's drain position).
  spdlog::cfg::load_env_levels();
}

// Reports an error as one line on stderr, and as a JSON object on stdout when the user asked
// for JSON, so scripts always get something to parse.
int report_error(const std::string& message, sluice::ExitCode code, bool json) {
  std::cerr << "sluice: error: " << message << '\n';
  if (json) {
    std::cout << nlohmann::json{{"error", message}, {"exit_code", static_cast<int>(code)}}.dump()
              << '\n';
  }
  return static_cast<int>(code);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args.front() == "--help" || args.front() == "-h" || args.front() == "help") {
    print_usage();
    return args.empty() ? static_cast<int>(sluice::ExitCode::usage) : 0;
  }
  if (args.front() == "--version") {
    std::cout << "sluice " SLUICE_VERSION "\n";
    return 0;
  }
  const bool json = std::find(args.begin(), args.end(), "--json") != args.end();
  const auto command = std::find_if(std::begin(kCommands), std::end(kCommands),
                                    [&](const Command& c) { return args.front() == c.name; });
  if (command == std::end(kCommands)) {
    return report_error("unknown command '" + args.front() + "'; run 'sluice --help' for the list",
                        sluice::ExitCode::usage, json);
  }
  configure_logging();
  try {
    return command->run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const sluice::Error& error) {
    const sluice::Error shown = sluice::user_error(error);
    return report_error(shown.what(), shown.code(), json);
  } catch (const std::exception& error) {
    return report_error(error.what(), sluice::ExitCode::failure, json);
  }
}

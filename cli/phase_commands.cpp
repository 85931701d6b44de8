#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/control_options.h"
#include "cli/options.h"
#include "cli/stop_signals.h"
#include "src/archive.h"
#include "src/controller.h"
#include "src/error.h"
#include "src/expand_contract.h"
#include "src/server_errors.h"
#include "src/server_family.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

// The options every expand-contract command shares.
struct PhaseOptions {
  ConnectionOptions connection;
  ControlOptions control;
  std::string metadata_schema;
  long lock_ms = 2000;
  int lock_attempts = 5;
  long batch_ms = 500;
  std::string target;  // a migration file, or a recorded migration's name

  void add_to(po::options_description& description, const char* target_help) {
    connection.add_to(description);
    description.add_options()("migration", po::value(&target)->required(), target_help)(
        "metadata-schema", po::value(&metadata_schema),
        "where the phase metadata lives (MySQL default: the DSN's database; PostgreSQL: sluice)")(
        "lock-timeout", po::value(&lock_ms)->default_value(2000),
        "longest wait for a table lock per attempt, in milliseconds")(
        "lock-attempts", po::value(&lock_attempts)->default_value(5),
        "how often a schema step that timed out on its lock is tried, with back-off")(
        "batch-time", po::value(&batch_ms)->default_value(500),
        "target duration of one backfill batch, in milliseconds");
    control.add_to(description);
  }

  ExpandContractSettings settings() const {
    if (lock_ms <= 0 || lock_attempts <= 0 || batch_ms <= 0) {
      throw Error(ExitCode::usage,
                  "--lock-timeout, --lock-attempts and --batch-time must be positive");
    }
    ExpandContractSettings settings;
    if (!metadata_schema.empty()) {
      settings.metadata_schema = metadata_schema;
    }
    settings.lock_timeout = std::chrono::milliseconds(lock_ms);
    settings.lock_attempts = lock_attempts;
    settings.batch_time = std::chrono::milliseconds(batch_ms);
    return settings;
  }
};

// A recorded migration's name, given as itself or as its file.
std::string migration_name(const std::string& target) {
  std::error_code error;
  if (std::filesystem::is_regular_file(target, error)) {
    return load_migration_file(target).name;
  }
  return target;
}

using PhaseAction = std::function<int(ExpandContract&, const std::string& target)>;

// Parses the shared options plus `extra`, builds the steering controller and the driver, and
// runs `action` on them.
int run_phase_command(const std::vector<std::string>& args, const std::string& usage,
                      const char* target_help, po::options_description& description,
                      const PhaseAction& action) {
  PhaseOptions options;
  options.add_to(description, target_help);
  po::positional_options_description positional;
  positional.add("migration", 1);
  if (!parse_options(args, description, usage, positional)) {
    return 0;
  }
  const Dsn dsn = options.connection.dsn();
  const ExpandContractSettings settings = options.settings();
  const std::optional<std::string> password = options.connection.resolve_password(dsn);
  std::unique_ptr<Controller> controller =
      options.control.make_controller(dsn, password, {{"SLUICE_MIGRATION", options.target}});
  controller->start(options.target);
  StopSignals signals;
  ExpandContract driver(server_family(dsn.kind), dsn, password, settings, *controller,
                        StopSignals::requested());
  return action(driver, options.target);
}

std::string describe_keys(const std::vector<KeyText>& keys) {
  std::string text;
  for (const KeyText& key : keys) {
    std::string values;
    for (const std::string& value : key) {
      values += (values.empty() ? "" : ", ") + value;
    }
    text += (text.empty() ? "(" : ", (") + values + ")";
  }
  return text;
}

}  // namespace

int run_plan(const std::vector<std::string>& args) {
  po::options_description description("sluice plan options");
  return run_phase_command(args, "sluice plan --dsn URL FILE", "the migration file", description,
                           [](ExpandContract& driver, const std::string& file) {
                             driver.plan(load_migration_file(file), std::cout);
                             return 0;
                           });
}

int run_expand(const std::vector<std::string>& args) {
  po::options_description description("sluice expand options");
  return run_phase_command(args, "sluice expand --dsn URL FILE", "the migration file", description,
                           [](ExpandContract& driver, const std::string& file) {
                             driver.expand(load_migration_file(file));
                             return 0;
                           });
}

int run_backfill(const std::vector<std::string>& args) {
  bool repair = false;
  po::options_description description("sluice backfill options");
  description.add_options()("repair", po::bool_switch(&repair),
                            "rewrite exactly the rows verify finds different, from the old column "
                            "(the truth before the switch), instead of filling NULLs");
  return run_phase_command(args, "sluice backfill --dsn URL NAME", "the migration's name or file",
                           description, [&](ExpandContract& driver, const std::string& target) {
                             driver.backfill(migration_name(target), repair);
                             return 0;
                           });
}

int run_verify(const std::vector<std::string>& args) {
  po::options_description description("sluice verify options");
  return run_phase_command(
      args, "sluice verify --dsn URL NAME", "the migration's name or file", description,
      [](ExpandContract& driver, const std::string& target) {
        const std::string name = migration_name(target);
        const VerifyReport report = driver.verify(name);
        if (report.mismatches > 0) {
          throw Error(ExitCode::failure,
                      std::to_string(report.mismatches) + " rows of migration '" + name +
                          "' differ between the old and the new schema (keys " +
                          describe_keys(report.samples) +
                          "); make the application write both, then run sluice backfill --repair " +
                          name + " (it rewrites those rows from the old column)");
        }
        std::cout << (report.checked ? "verified: every row agrees\n"
                                     : "nothing to verify row by row for this operation\n");
        return 0;
      });
}

int run_switch(const std::vector<std::string>& args) {
  bool force = false;
  po::options_description description("sluice switch options");
  description.add_options()("force", po::bool_switch(&force),
                            "switch although the file's dual-write-clients or switch-after would "
                            "hold it (verification must still pass)");
  return run_phase_command(args, "sluice switch --dsn URL NAME", "the migration's name or file",
                           description, [&](ExpandContract& driver, const std::string& target) {
                             driver.switch_over(migration_name(target), force);
                             return 0;
                           });
}

int run_contract(const std::vector<std::string>& args) {
  ContractOptions contract;
  std::string archive;
  po::options_description description("sluice contract options");
  description.add_options()("force", po::bool_switch(&contract.force),
                            "contract inside the grace period or while old clients are connected")(
      "old-clients", po::value(&contract.old_clients),
      "SQL condition matching sessions of the previous application version (PostgreSQL: over "
      "pg_stat_activity, e.g. \"application_name LIKE 'shop-v41%'\"; MySQL: over "
      "information_schema.PROCESSLIST, e.g. \"USER = 'shop_v41'\"); overrides the file's")(
      "archive", po::value(&archive),
      "first write what contract drops (the dropped column with its keys, or the whole original "
      "table a rebuild kept) to this zstd file (sluice restore loads it back); it is read back and "
      "checked before anything is dropped");
  return run_phase_command(args, "sluice contract --dsn URL NAME", "the migration's name or file",
                           description, [&](ExpandContract& driver, const std::string& target) {
                             require_parent_directory(archive, "--archive");
                             contract.archive = archive;
                             driver.contract(migration_name(target), contract);
                             return 0;
                           });
}

int run_abort(const std::vector<std::string>& args) {
  po::options_description description("sluice abort options");
  return run_phase_command(args, "sluice abort --dsn URL NAME", "the migration's name or file",
                           description, [](ExpandContract& driver, const std::string& target) {
                             driver.abort(migration_name(target));
                             return 0;
                           });
}

}  // namespace sluice::cli

namespace sluice::cli {
namespace {

// How far one migration of a `sluice run` got.
struct RunOutcome {
  std::string name;
  std::string phase;
  std::string note;
};

// Advances one migration as far as its phase rules allow; "waiting" notes say what holds it.
RunOutcome advance(ExpandContract& driver, const MigrationSpec& spec) {
  std::optional<MigrationRecord> record = driver.find(spec.name);
  if (!record || record->phase == Phase::planned) {
    driver.expand(spec);
    record = driver.find(spec.name);
  }
  if (record->phase == Phase::expanding || record->phase == Phase::backfilling) {
    // A completed backfill runs a fresh pass: cheap where everything is filled, and it fills
    // rows that clients of the previous release inserted without the new column since.
    driver.backfill(spec.name);
    const VerifyReport report = driver.verify(spec.name);
    if (report.mismatches > 0) {
      return {spec.name, "backfilling",
              "waiting: " + std::to_string(report.mismatches) +
                  " rows differ; the application does not write both columns yet (once it "
                  "does, sluice backfill --repair " +
                  spec.name + " rewrites them)"};
    }
    if (spec.switch_needs_release() && spec.dual_write_clients.empty() &&
        !spec.switch_after_seconds) {
      // Verification passes on a quiet table right after the backfill, whichever release runs:
      // it is no sign that a dual-writing release is deployed.
      return {spec.name, "backfilling",
              "waiting: switching needs the release that writes both deployed; run sluice "
              "switch " +
                  spec.name + " once it is (or give the file dual-write-clients or switch-after)"};
    }
    if (const std::optional<std::string> blocker = driver.switch_blocker(spec.name)) {
      return {spec.name, "backfilling", "waiting: " + *blocker};
    }
    driver.switch_over(spec.name);
    record = driver.find(spec.name);
  }
  if (record->phase == Phase::switched) {
    if (const std::optional<std::string> blocker = driver.contract_blocker(spec.name, {})) {
      return {spec.name, "switched", "waiting: " + *blocker};
    }
    driver.contract(spec.name, {});
    record = driver.find(spec.name);
  }
  return {spec.name, std::string(phase_name(record->phase)), "done"};
}

void log_to_file(const std::string& path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    spdlog::default_logger()->sinks().push_back(sink);
  } catch (const spdlog::spdlog_ex& error) {
    throw Error(ExitCode::usage, "cannot write the log file " + path + ": " + error.what());
  }
}

}  // namespace

int run_run(const std::vector<std::string>& args) {
  std::string log_file;
  po::options_description description("sluice run options");
  description.add_options()("log-file", po::value(&log_file),
                            "also append the run's log to this file");
  return run_phase_command(
      args, "sluice run --dsn URL DIR", "the directory of migration files", description,
      [&](ExpandContract& driver, const std::string& directory) {
        require_parent_directory(log_file, "--log-file");
        if (!log_file.empty()) {
          log_to_file(log_file);
        }
        std::error_code error;
        if (!std::filesystem::is_directory(directory, error)) {
          throw Error(ExitCode::not_found, directory + " is not a directory of migration files");
        }
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(directory)) {
          const std::string extension = entry.path().extension().string();
          if (entry.is_regular_file() && (extension == ".ini" || extension == ".json")) {
            files.push_back(entry.path());
          }
        }
        std::sort(files.begin(), files.end());
        spdlog::info("run: {} migration files in {}", files.size(), directory);
        std::vector<RunOutcome> outcomes;
        int exit_code = 0;
        for (const std::filesystem::path& file : files) {
          try {
            outcomes.push_back(advance(driver, load_migration_file(file)));
          } catch (const Error& error) {
            // Later files may build on this one: stop here, each migration stays in its
            // recorded phase for the next run.
            const Error failure = user_error(error);
            outcomes.push_back({file.filename().string(), "failed", failure.what()});
            exit_code = static_cast<int>(failure.code());
            break;
          }
        }
        for (const RunOutcome& outcome : outcomes) {
          spdlog::info("run summary: {}: {} ({})", outcome.name, outcome.phase, outcome.note);
          std::cout << outcome.name << "\t" << outcome.phase << "\t" << outcome.note << "\n";
        }
        return exit_code;
      });
}

int run_restore(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string archive;
  std::string table;
  long lock_ms = 2000;
  po::options_description description("sluice restore options");
  connection.add_to(description);
  description.add_options()("archive", po::value(&archive)->required(),
                            "the archive sluice contract --archive wrote")(
      "table", po::value(&table),
      "restore into this table (name, or schema.name; a bare name is in the archived table's "
      "schema) instead of the archived one; a table archive creates it, so it must not exist")(
      "lock-timeout", po::value(&lock_ms)->default_value(2000),
      "longest wait for the table's lock to re-create the column, in milliseconds");
  po::positional_options_description positional;
  positional.add("archive", 1);
  if (!parse_options(args, description, "sluice restore --dsn URL ARCHIVE [--table NAME]",
                     positional)) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  std::unique_ptr<ColumnBackend> backend =
      server_family(dsn.kind).column_backend(dsn, connection.resolve_password(dsn));
  const std::uint64_t rows =
      restore_archive(*backend, archive, std::chrono::milliseconds(std::max(1L, lock_ms)),
                      table.empty() ? std::nullopt : std::optional<std::string>(table));
  std::cout << "restored " << rows << " rows\n";
  return 0;
}

}  // namespace sluice::cli

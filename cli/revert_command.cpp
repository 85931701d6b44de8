#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/alter_run.h"
#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "cli/stop_signals.h"
#include "src/checkpoint.h"
#include "src/error.h"
#include "src/migration_spec.h"
#include "src/server_family.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

nlohmann::json spec_of(const MigrationRecord& record) {
  return nlohmann::json::parse(record.spec, nullptr, false);
}

// The name of the run a revert record undoes, or "" for any other record.
std::string revert_of(const MigrationRecord& record) {
  const nlohmann::json spec = spec_of(record);
  return spec.is_object() ? spec.value("revert_of", std::string()) : std::string();
}

// Throws Error(ExitCode::preflight_failed) unless `record` is a `sluice alter` run that cut over
// and kept its old table.
void refuse_unless_switched(const MigrationRecord& record) {
  const std::string name = "migration '" + record.name + "'";
  if (record.operation != "rebuild" || is_phased_spec(record.spec)) {
    throw Error(ExitCode::preflight_failed,
                name +
                    " is a migration file's; sluice revert undoes sluice alter runs (a "
                    "migration file is undone with sluice abort before its switch)");
  }
  switch (record.phase) {
    case Phase::switched:
      return;
    case Phase::contracted:
      throw Error(ExitCode::preflight_failed,
                  name +
                      " is contracted: its old table was dropped, so it can no longer be "
                      "reverted");
    case Phase::reverted:
      throw Error(ExitCode::preflight_failed, name + " is reverted already");
    default:
      throw Error(ExitCode::preflight_failed,
                  name + " is " + std::string(phase_name(record.phase)) +
                      ": it never cut over, so there is nothing to revert (sluice cleanup "
                      "removes what a stopped run left)");
  }
}

// The switched run's revert point; throws Error(ExitCode::preflight_failed) when it has none.
Checkpoint revert_point(const MigrationRecord& record) {
  const Checkpoint point =
      record.checkpoint.empty() ? Checkpoint{} : checkpoint_from_json(record.checkpoint);
  if (!point.revert_point) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + record.name +
                    "' has no recorded change-log position after its cut-over (it ran with "
                    "--drop-old-table, or on PostgreSQL without --revertible, or under a sluice "
                    "that did not record one, or the position could not be read then), so it "
                    "cannot be reverted");
  }
  return point;
}

// Past the window, what keeps the run revertible is released (RebuildBackend::end_revertibility).
void refuse_after_window(PhaseStore& store, const MigrationRecord& record,
                         std::chrono::seconds window, RebuildBackend& backend,
                         const Checkpoint& point) {
  const std::optional<std::int64_t> since = store.seconds_since(record.id, Phase::switched);
  if (since && *since > window.count()) {
    const bool released = backend.end_revertibility(point);
    throw Error(ExitCode::preflight_failed,
                "migration '" + record.name + "' cut over " + std::to_string(*since) +
                    " s ago, past its revert window of " + std::to_string(window.count()) +
                    " s (--revert-window of sluice alter), so it can no longer be reverted" +
                    (released ? " (its reverse replication slot is dropped now, so it retains "
                                "no more WAL)"
                              : ""));
  }
}

void refuse_losses(const std::vector<std::string>& losses, const std::string& name, bool allowed) {
  std::string text;
  for (const std::string& loss : losses) {
    text += (text.empty() ? "" : "; ") + loss;
  }
  if (losses.empty()) {
    return;
  }
  if (!allowed) {
    throw Error(ExitCode::preflight_failed, "reverting migration '" + name + "' would lose data (" +
                                                text +
                                                "); pass --allow-lossy-revert to revert anyway");
  }
  spdlog::warn("reverting with losses (--allow-lossy-revert): {}", text);
}

// Throws Error(ExitCode::preflight_failed) when a run recorded after `record` changed the same
// table (a revert of it that failed aside): the live table is then that run's, and the writes
// since `record`'s cut-over went through it.
void refuse_after_later_run(PhaseStore& store, const MigrationRecord& record) {
  for (const MigrationRecord& other : store.list()) {
    if (other.id > record.id && other.table == record.table && other.phase != Phase::aborted) {
      throw Error(ExitCode::preflight_failed,
                  "migration '" + other.name + "' changed " + record.table + " after '" +
                      record.name + "', so '" + record.name +
                      "' can no longer be reverted on its own (revert '" + other.name +
                      "' first, if it can be)");
    }
  }
}

// A revert of `name` recorded earlier: one that stopped (to resume) or one that cut over.
std::optional<MigrationRecord> earlier_revert(PhaseStore& store, const std::string& name) {
  for (const MigrationRecord& record : store.list()) {
    if (revert_of(record) == name &&
        (phase_in_progress(record.phase) || record.phase == Phase::switched ||
         record.phase == Phase::contracted)) {
      return record;
    }
  }
  return std::nullopt;
}

// `base`, or base-2, base-3, … : the first name no recorded migration has.
std::string free_name(PhaseStore& store, const std::string& base) {
  std::string name = base;
  for (int n = 2; store.find(name); ++n) {
    name = base + "-" + std::to_string(n);
  }
  return name;
}

void mark_reverted(const Lease::StoreFactory& store, const MigrationRecord& forward) {
  store()->set_phase(forward.id, Phase::reverted);
  spdlog::info("migration '{}' is reverted: {} has its old schema again", forward.name,
               forward.table);
}

// What a revert of a switched run starts from, once every check passed.
struct RevertStart {
  std::string table;       // the run's table, canonical
  std::string old_table;   // where the run kept its old table
  std::string old_suffix;  // the run's old-table suffix, which the revert's swap reuses
  Checkpoint start;        // the revert point, as a complete copy's checkpoint
  // The run was --revertible: so is its revert (on PostgreSQL it leaves a reverse slot too).
  bool revertible = false;
};

// The checks that need the server: losses first (PostgreSQL refuses there), then the revert
// point, the window and the binlog. Each throws Error and changes nothing.
RevertStart check_revertible(PhaseStore& store, const MigrationRecord& forward,
                             RebuildBackend& backend, bool allow_lossy) {
  RebuildOptions options;
  read_rebuild_spec(forward, options);
  RevertStart revert{options.table, spec_of(forward).value("old_table", std::string()),
                     options.old_suffix, Checkpoint{}, options.revertible};
  refuse_losses(backend.revert_losses(revert.table, revert.old_table), forward.name, allow_lossy);
  const Checkpoint point = revert_point(forward);
  refuse_after_window(store, forward, options.revert_window, backend, point);
  if (!backend.log_retained(point)) {
    throw Error(ExitCode::stream,
                "the change log no longer holds " + to_string(point.position) +
                    ", where the writes since migration '" + forward.name +
                    "' cut over start (binlog purged, or on PostgreSQL the reverse replication "
                    "slot dropped or invalidated), so it cannot be reverted");
  }
  revert.start = Checkpoint{std::nullopt, point.position, true, false};
  return revert;
}

// The record of a revert of `forward`: a rebuild run of the same table whose spec names the
// old table it adopts (reverting_old_table) and the run it undoes (revert_of).
MigrationRecord revert_record(PhaseStore& store, const MigrationRecord& forward,
                              const RevertStart& revert, const RebuildOptions& options) {
  MigrationRecord record =
      rebuild_record(forward.table, revert.old_table, options, revert.old_table,
                     free_name(store, "revert-" + forward.name));
  nlohmann::json spec = spec_of(record);
  spec["revert_of"] = forward.name;
  record.spec = spec.dump();
  return record;
}

}  // namespace

int run_revert(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  ControlOptions control;
  LockOptions locks;
  std::string name;
  std::string metadata_schema;
  std::string revert_window = "24h";
  bool allow_lossy = false;
  po::options_description description("sluice revert options");
  connection.add_to(description);
  description.add_options()("name", po::value(&name),
                            "the sluice alter run to undo, as sluice status names it")(
      "allow-lossy-revert", po::bool_switch(&allow_lossy),
      "revert even when data written since the cut-over has no place in the old schema")(
      "metadata-schema", po::value(&metadata_schema),
      "where the phase metadata lives (MySQL default: the DSN's database)")(
      "revert-window", po::value(&revert_window)->default_value("24h"),
      "how long after this revert's own cut-over sluice revert may undo it in turn");
  locks.add_to(description);
  control.add_to(description);
  po::positional_options_description positional;
  positional.add("name", 1);
  if (!parse_options(args, description, "sluice revert --dsn URL NAME", positional)) {
    return 0;
  }
  if (name.empty()) {
    throw Error(ExitCode::usage, "name the migration to revert: sluice revert --dsn URL NAME");
  }
  RebuildOptions options;
  locks.apply(options);
  options.revert_window = std::chrono::seconds(parse_duration(revert_window));
  const Dsn dsn = connection.dsn();
  control.settings(dsn);
  const std::optional<std::string> password = connection.resolve_password(dsn);
  const std::optional<std::string> schema = metadata_schema_option(metadata_schema);
  const Lease::StoreFactory store = store_factory(dsn, password, schema, "");
  std::unique_ptr<PhaseStore> metadata = store();
  const std::optional<MigrationRecord> forward = metadata->find(name);
  if (!forward) {
    throw Error(ExitCode::not_found,
                "no migration named '" + name + "' is recorded; sluice status lists them");
  }
  if (const std::optional<MigrationRecord> earlier = earlier_revert(*metadata, name)) {
    if (phase_in_progress(earlier->phase)) {
      spdlog::info("resuming revert '{}' of migration '{}'", earlier->name, name);
      const int code = resume_run(dsn, password, schema, earlier->name, control, options);
      mark_reverted(store, *forward);
      return code;
    }
    // Cut over, then killed before the migration was marked (or resumed by sluice alter).
    store()->set_phase(forward->id, Phase::reverted);
    throw Error(ExitCode::preflight_failed,
                "migration '" + name + "' was reverted by '" + earlier->name + "' already");
  }
  refuse_unless_switched(*forward);
  refuse_after_later_run(*metadata, *forward);
  std::unique_ptr<RebuildBackend> backend = server_family(dsn.kind).rebuild_backend(dsn, password);
  const RevertStart revert = check_revertible(*metadata, *forward, *backend, allow_lossy);
  options.table = revert.table;
  options.reverting_old_table = revert.old_table;
  options.resume = true;
  // The revert keeps the table it swaps out under the name the old table is giving up.
  options.old_suffix = revert.old_suffix;
  options.revertible = revert.revertible;
  MigrationRecord record = revert_record(*metadata, *forward, revert, options);
  std::unique_ptr<Controller> controller = make_controller(control, dsn, password, options);
  start_controller(*controller, options.table);
  std::unique_ptr<RunRecorder> recorder = record_run(store, std::move(record), *controller);
  // Recorded before the old table moves, so that a revert killed from here on resumes.
  recorder->checkpoint(revert.start);
  backend->adopt_old_table(options.table, revert.old_table);
  StopSignals signals;
  Migrator migrator(*backend, options, StopSignals::requested());
  const int code = run_migration(
      migrator, *recorder, *controller, [&] { return migrator.resume(revert.start); },
      give_back_on_abort(*backend, options));
  mark_reverted(store, *forward);
  return code;
}

}  // namespace sluice::cli

#include "src/run_recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "src/error.h"
#include "src/migration_spec.h"
#include "src/reconnect.h"

namespace sluice {

namespace {

// Position in the forward order planned → … → contracted.
std::size_t rank(Phase phase) {
  const std::vector<Phase>& phases = all_phases();
  return static_cast<std::size_t>(std::find(phases.begin(), phases.end(), phase) - phases.begin());
}

}  // namespace

RunRecorder::RunRecorder(Lease::StoreFactory connect, MigrationRecord record)
    : connect_(std::move(connect)),
      store_(connect_()),
      record_(std::move(record)),
      name_(record_.name) {
  store_->ensure_schema();
  const std::string owner = this_runner();
  id_ = store_->start(record_, owner);
  record_.id = id_;
  record_.phase = Phase::planned;
  lease_ = std::make_unique<Lease>(connect_, id_, owner);
  spdlog::info("recorded as migration '{}' (sluice status shows its phases)", name_);
}

RunRecorder::RunRecorder(Lease::StoreFactory connect, std::unique_ptr<PhaseStore> store,
                         MigrationRecord record, std::unique_ptr<Lease> lease)
    : connect_(std::move(connect)),
      store_(std::move(store)),
      record_(std::move(record)),
      id_(record_.id),
      name_(record_.name),
      lease_(std::move(lease)) {}

std::unique_ptr<RunRecorder> RunRecorder::take_over(Lease::StoreFactory connect,
                                                    const std::string& name) {
  std::unique_ptr<PhaseStore> store = connect();
  std::optional<MigrationRecord> record = store->find(name);
  if (!record) {
    throw Error(ExitCode::not_found,
                "no migration named '" + name + "' is recorded; sluice status lists them");
  }
  if (record->phase != Phase::expanding && record->phase != Phase::backfilling) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + name + "' is " + std::string(phase_name(record->phase)) +
                    "; only a run killed while expanding or backfilling can resume");
  }
  if (lease_held(*record)) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + name + "' is still run by " + record->owner + " (lease until " +
                    record->lease_until +
                    " UTC); stop that run, or wait until its lease expires (" +
                    std::to_string(PhaseStore::kLeaseSeconds) + " s after it stopped)");
  }
  release_if_gone(*store, *record);
  if (record->checkpoint.empty()) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + name +
                    "' has no checkpoint (it stopped before its first chunk was copied); start "
                    "over: sluice cleanup --table " +
                    record->table + ", then sluice alter");
  }
  const std::string owner = this_runner();
  if (!store->take_over(record->id, owner)) {
    throw Error(ExitCode::preflight_failed,
                "another runner took over migration '" + name + "' first");
  }
  auto lease = std::make_unique<Lease>(connect, record->id, owner);
  spdlog::info("took over migration '{}' from {} to resume it", name, record->owner);
  return std::unique_ptr<RunRecorder>(
      new RunRecorder(connect, std::move(store), std::move(*record), std::move(lease)));
}

template <typename Write>
void RunRecorder::write_to_store(const char* what, Write write) {
  retry_on_connection_loss(
      what, ReconnectPolicy{}, [this] { store_ = connect_(); }, [&] { write(*store_); });
}

void RunRecorder::checkpoint(const Checkpoint& checkpoint) {
  const std::string saved = to_json(checkpoint);
  write_to_store("saving a checkpoint",
                 [&](PhaseStore& store) { store.save_checkpoint(id_, saved); });
}

void RunRecorder::entered(Phase phase) {
  // A resumed run passes its recorded phases again; their first times stand.
  if (rank(phase) <= rank(record_.phase)) {
    return;
  }
  record_.phase = phase;
  switched_ = switched_ || phase == Phase::switched;
  try {
    write_to_store("recording a phase", [&](PhaseStore& store) { store.set_phase(id_, phase); });
  } catch (const std::exception& error) {
    // Before the swap an unrecorded run must not go on; after it, the swap stands.
    if (!switched_) {
      throw;
    }
    spdlog::warn("could not record phase {} in the phase metadata: {}", phase_name(phase),
                 error.what());
  }
}

std::optional<std::string> RunRecorder::stop_reason() const {
  if (lease_->lost()) {
    return "another runner took over migration '" + name_ + "'";
  }
  return std::nullopt;
}

void RunRecorder::failed(const std::string& error) {
  if (switched_) {
    return;  // the swap is done; what failed after it did not undo it
  }
  try {
    store_->set_phase(id_, Phase::aborted, error);
  } catch (const std::exception& record_error) {
    spdlog::warn("could not record the failure in the phase metadata: {}", record_error.what());
  }
}

void release_if_gone(PhaseStore& store, const MigrationRecord& record) {
  if (record.lease_alive && runner_is_gone(record.owner)) {
    spdlog::info("migration '{}' was run by {}, which is no longer running; its lease is released",
                 record.name, record.owner);
    store.release_lease(record.id, record.owner);
  }
}

namespace {

// A `sluice alter` run of `table` that stopped (killed, or gave up on its server) in a phase it
// can resume from, with no runner holding it.
bool stopped_resumable_run(const MigrationRecord& record, const std::string& table) {
  return record.table == table &&
         (record.phase == Phase::expanding || record.phase == Phase::backfilling) &&
         !lease_held(record) && !is_phased_spec(record.spec);
}

}  // namespace

void refuse_stopped_run(PhaseStore& store, const std::string& table,
                        const std::string& typed_table) {
  for (const MigrationRecord& record : store.list()) {
    if (stopped_resumable_run(record, table)) {
      const std::string why = record.lease_alive && runner_is_gone(record.owner)
                                  ? "its runner " + record.owner + " is no longer running"
                                  : "its runner " + record.owner + " stopped";
      throw Error(ExitCode::preflight_failed,
                  "migration '" + record.name + "' of " + table + " stopped while " +
                      std::string(phase_name(record.phase)) + " (" + why +
                      "); continue it with sluice alter --resume " + record.name +
                      ", or remove what it left with sluice cleanup --table " + typed_table);
    }
  }
}

void abandon_stopped_runs(PhaseStore& store, const std::string& table) {
  for (const MigrationRecord& record : store.list()) {
    if (stopped_resumable_run(record, table)) {
      store.set_phase(
          record.id, Phase::aborted,
          "stopped (its runner " + record.owner + " is gone); sluice cleanup removed what it left");
    }
  }
}

void refuse_while_in_progress(PhaseStore& store, const std::string& table) {
  for (const MigrationRecord& record : store.list()) {
    if (record.table == table && phase_in_progress(record.phase) && lease_held(record)) {
      throw Error(ExitCode::preflight_failed,
                  "migration '" + record.name + "' of " + table + " is running (" +
                      std::string(phase_name(record.phase)) + ", run by " + record.owner +
                      "); its shadow table is not a leftover; stop that run first");
    }
  }
}

MigrationRecord rebuild_record(const std::string& table, const std::string& bare_name,
                               const RebuildOptions& options, const std::string& old_table,
                               std::string name) {
  if (name.empty()) {
    // To the millisecond: two runs of one table within a second (a script, a retry) must not
    // collide on the name.
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
    name = "alter-" + bare_name + "-" + stamp + fraction;
  }
  MigrationRecord record;
  record.name = name;
  record.table = table;
  record.operation = "rebuild";
  record.spec = nlohmann::json{{"table", record.table},
                               {"alter", options.alter},
                               {"force_rebuild", options.force_rebuild},
                               {"discard_duplicates", options.discard_duplicates},
                               {"drop_old_table", options.drop_old_table},
                               {"old_suffix", options.old_suffix},
                               {"old_table", old_table},
                               {"revert_window_seconds", options.revert_window.count()},
                               {"revertible", options.revertible},
                               {"allow_lossy_revert", options.allow_lossy_revert},
                               {"reverting_old_table", options.reverting_old_table}}
                    .dump();
  return record;
}

void read_rebuild_spec(const MigrationRecord& record, RebuildOptions& options) {
  const nlohmann::json spec = nlohmann::json::parse(record.spec, nullptr, false);
  if (spec.is_discarded() || !spec.contains("alter") || !spec.contains("table")) {
    throw Error(ExitCode::failure, "the record of migration '" + record.name +
                                       "' lacks its table or ALTER, so it cannot resume");
  }
  options.table = spec["table"].get<std::string>();
  options.alter = spec["alter"].get<std::string>();
  options.discard_duplicates = spec.value("discard_duplicates", false);
  options.drop_old_table = spec.value("drop_old_table", false);
  options.old_suffix = spec.value("old_suffix", std::string());
  options.reverting_old_table = spec.value("reverting_old_table", std::string());
  options.revert_window =
      std::chrono::seconds(spec.value("revert_window_seconds", std::int64_t{86400}));
  options.revertible = spec.value("revertible", false);
  // Recorded since the check before the swap exists; a run recorded earlier keeps the flag given.
  options.allow_lossy_revert = spec.value("allow_lossy_revert", options.allow_lossy_revert);
}

}  // namespace sluice

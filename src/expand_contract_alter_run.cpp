// `sluice contract NAME` for a `sluice alter` run: drops the old table its cut-over kept.

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "src/checkpoint.h"
#include "src/error.h"
#include "src/expand_contract.h"
#include "src/migration_spec.h"
#include "src/run_recorder.h"
#include "src/server_family.h"

namespace sluice {
namespace {

// The old table a switched `sluice alter` run recorded (rebuild_record), or "" when its record
// predates that.
std::string recorded_old_table(const MigrationRecord& record) {
  const nlohmann::json spec = nlohmann::json::parse(record.spec, nullptr, false);
  return spec.is_object() ? spec.value("old_table", std::string()) : std::string();
}

// A later switched `sluice alter` run of the same table that keeps its old table under `old`:
// the name was free when it planned, so the earlier run's old table had been dropped by hand.
std::optional<std::string> later_keeper(PhaseStore& store, const MigrationRecord& record,
                                        const std::string& old) {
  for (const MigrationRecord& other : store.list()) {
    if (other.id > record.id && other.table == record.table && other.phase == Phase::switched &&
        !is_phased_spec(other.spec) && recorded_old_table(other) == old) {
      return other.name;
    }
  }
  return std::nullopt;
}

// Gives a taken-over lease back however the contract ends, so that a failed drop can be tried
// again at once.
class HeldLease {
 public:
  HeldLease(PhaseStore& store, std::int64_t id) : store_(store), id_(id) {}
  ~HeldLease() {
    try {
      store_.release_lease(id_, this_runner());
    } catch (const std::exception& error) {
      spdlog::debug("could not release the lease ({})", error.what());
    }
  }
  HeldLease(const HeldLease&) = delete;
  HeldLease& operator=(const HeldLease&) = delete;

 private:
  PhaseStore& store_;
  std::int64_t id_;
};

}  // namespace

void ExpandContract::contract_alter_run(const MigrationRecord& record,
                                        const ContractOptions& options) {
  if (!options.archive.empty()) {
    throw Error(ExitCode::usage,
                "migration '" + record.name +
                    "' is a sluice alter run, whose old table contract --archive does not "
                    "write; dump it with mysqldump or pg_dump, then contract without --archive");
  }
  if (record.phase != Phase::switched) {
    throw Error(ExitCode::preflight_failed, "sluice contract needs migration '" + record.name +
                                                "' to be switched (its cut-over done), but it is " +
                                                std::string(phase_name(record.phase)) +
                                                "; see sluice status " + record.name);
  }
  const std::string old = recorded_old_table(record);
  if (old.empty()) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + record.name +
                    "' was recorded by an older sluice, which did not record where it kept the "
                    "old table; drop that table yourself once you no longer need it");
  }
  const ddl::QualifiedName table = backend_->resolve_table(record.table);
  const ddl::QualifiedName old_table{table.schema, old};
  const std::string quoted = ddl::quote_qualified(backend_->ddl().dialect(), old_table);
  PhaseStore& phases = store(dsn_.database);
  release_if_gone(phases, record);
  if (!phases.take_over(record.id, this_runner())) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + record.name + "' is being driven by " + record.owner +
                    "; wait for it to finish (a stopped runner's lease expires within " +
                    std::to_string(PhaseStore::kLeaseSeconds) + " s)");
  }
  const HeldLease held(phases, record.id);
  if (const std::optional<std::string> keeper = later_keeper(phases, record, old)) {
    spdlog::info(
        "the old table of migration {} was dropped already: {} now holds the old table of "
        "migration {}, which stays",
        record.name, quoted, *keeper);
  } else {
    const Step drop{StepKind::drop_old_table, old, "DROP TABLE IF EXISTS " + quoted};
    spdlog::info("running: {}", drop.sql);
    backend_->run(table, drop, settings_.lock_timeout, settings_.lock_attempts);
  }
  const Checkpoint point =
      record.checkpoint.empty() ? Checkpoint{} : checkpoint_from_json(record.checkpoint);
  // With its old table gone the run can no longer be reverted (docs/alter.md, "Revert").
  if (point.revert_point && family_.rebuild_backend(dsn_, password_)->end_revertibility(point)) {
    spdlog::info("dropped the reverse replication slot of {}: it retains no more WAL",
                 record.table);
  }
  phases.set_phase(record.id, Phase::contracted);
  spdlog::info("migration {} is contracted: its old table {} is gone{}", record.name, quoted,
               point.revert_point ? ", so sluice revert can no longer undo it" : "");
}

}  // namespace sluice

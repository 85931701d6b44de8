#include "src/run_recorder.h"

#include <spdlog/spdlog.h>

#include "src/error.h"

namespace sluice {

RunRecorder::RunRecorder(const Dsn& dsn, const std::optional<std::string>& password,
                         const std::optional<std::string>& metadata_schema,
                         const std::string& fallback_schema, MigrationRecord record)
    : store_(connect_phase_store(dsn, password, metadata_schema, fallback_schema)),
      name_(record.name) {
  store_->ensure_schema();
  const std::string owner = this_runner();
  id_ = store_->start(record, owner);
  lease_ = std::make_unique<Lease>(
      connect_phase_store(dsn, password, metadata_schema, fallback_schema), id_, owner);
  spdlog::info("recorded as migration '{}' (sluice status shows its phases)", name_);
}

void RunRecorder::entered(Phase phase) {
  switched_ = switched_ || phase == Phase::switched;
  try {
    store_->set_phase(id_, phase);
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

void refuse_while_in_progress(PhaseStore& store, const std::string& table) {
  for (const MigrationRecord& record : store.list()) {
    if (record.table == table && phase_in_progress(record.phase) && record.lease_alive) {
      throw Error(ExitCode::preflight_failed,
                  "migration '" + record.name + "' of " + table + " is running (" +
                      std::string(phase_name(record.phase)) + ", run by " + record.owner +
                      "); its shadow table is not a leftover; stop that run first");
    }
  }
}

}  // namespace sluice

#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "src/error.h"
#include "src/expand_contract.h"
#include "src/lease.h"

namespace sluice {

// One command's hold on a migration: its record, spec, plan and checkpoint, and its lease.
class ExpandContract::Session {
 public:
  MigrationRecord record;
  MigrationSpec spec;
  ddl::QualifiedName table;
  PhasePlan plan;
  nlohmann::json checkpoint = nlohmann::json::object();
  std::unique_ptr<Lease> lease;
  PhaseStore* store = nullptr;

  void save() { store->save_checkpoint(record.id, checkpoint.dump()); }
  void enter(Phase phase) {
    store->set_phase(record.id, phase);
    record.phase = phase;
    spdlog::info("migration {} is {}", record.name, phase_name(phase));
  }
  void check_lease() const {
    if (lease && lease->lost()) {
      throw Error(ExitCode::aborted, "migration '" + record.name +
                                         "' was taken over by another runner; this one stops");
    }
  }
};

// A key as the logs show it: (1, 'a').
inline std::string describe_key(const KeyText& key) {
  std::string text = "(";
  for (const std::string& value : key) {
    text += (text.size() > 1 ? ", " : "") + value;
  }
  return text + ")";
}

// Rows per batch when a command only reads (verification, archives).
inline constexpr std::uint64_t kReadBatchRows = 10000;

}  // namespace sluice

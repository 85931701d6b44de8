#include "src/sql/phase_store_statements.h"

namespace sluice {

PhaseStoreStatements::PhaseStoreStatements(std::string migrations, std::string metadata)
    : migrations_(std::move(migrations)), metadata_(std::move(metadata)) {}

std::string PhaseStoreStatements::timestamp_column(Phase phase) {
  return std::string(phase_name(phase)) + "_at";
}

std::string PhaseStoreStatements::schema_version() const {
  return "SELECT MAX(version) FROM " + metadata_;
}

std::vector<std::string> PhaseStoreStatements::write_version(int version) const {
  return {"DELETE FROM " + metadata_,
          "INSERT INTO " + metadata_ + " VALUES (" + std::to_string(version) + ")"};
}

std::string PhaseStoreStatements::select(const std::optional<std::string>& filter) const {
  std::string phase_times;
  for (Phase phase : all_phases()) {
    phase_times += ", " + utc_text(timestamp_column(phase));
  }
  // The lease's state comes from the server's clock, so runners on hosts whose clocks differ
  // agree on it; COALESCE makes a missing lease read as not held on both servers.
  return "SELECT id, name, table_name, operation, spec, phase, checkpoint, grace_seconds, "
         "owner, " +
         utc_text("lease_until") + ", COALESCE(lease_until > " + now() + ", FALSE), error" +
         phase_times + " FROM " + migrations_ + " WHERE " + filter.value_or("TRUE") +
         " ORDER BY id";
}

std::string PhaseStoreStatements::named(const std::string& name_literal) const {
  return "name = " + name_literal;
}

std::string PhaseStoreStatements::in_progress(const std::string& table_literal) const {
  std::string phases;
  for (Phase phase : all_phases()) {
    if (phase_in_progress(phase)) {
      phases +=
          std::string(phases.empty() ? "" : ", ") + "'" + std::string(phase_name(phase)) + "'";
    }
  }
  return "table_name = " + table_literal + " AND phase IN (" + phases + ")";
}

std::string PhaseStoreStatements::insert(const NewMigration& migration) const {
  return "INSERT INTO " + migrations_ +
         " (name, table_name, operation, spec, phase, planned_at, grace_seconds, owner, "
         "lease_until) VALUES (" +
         migration.name_literal + ", " + migration.table_literal + ", " +
         migration.operation_literal + ", " + migration.spec_literal + ", 'planned', " + now() +
         ", " + std::to_string(migration.grace_seconds) + ", " + migration.owner_literal + ", " +
         lease_expiry() + ")";
}

std::string PhaseStoreStatements::set_phase(std::int64_t id, Phase phase,
                                            const std::optional<std::string>& error_literal) const {
  return "UPDATE " + migrations_ + " SET phase = '" + std::string(phase_name(phase)) + "', " +
         timestamp_column(phase) + " = " + now() +
         (error_literal ? ", error = " + *error_literal : "") + " WHERE id = " + std::to_string(id);
}

std::string PhaseStoreStatements::take_over(std::int64_t id,
                                            const std::string& owner_literal) const {
  return "UPDATE " + migrations_ + " SET owner = " + owner_literal +
         ", lease_until = " + lease_expiry() + " WHERE id = " + std::to_string(id) +
         " AND (lease_until IS NULL OR lease_until <= " + now() + ")";
}

std::string PhaseStoreStatements::renew_lease(std::int64_t id,
                                              const std::string& owner_literal) const {
  return "UPDATE " + migrations_ + " SET lease_until = " + lease_expiry() +
         " WHERE id = " + std::to_string(id) + " AND owner = " + owner_literal +
         " AND lease_until IS NOT NULL";
}

std::string PhaseStoreStatements::release_lease(std::int64_t id,
                                                const std::string& owner_literal) const {
  return "UPDATE " + migrations_ + " SET lease_until = NULL WHERE id = " + std::to_string(id) +
         " AND owner = " + owner_literal;
}

std::string PhaseStoreStatements::save_checkpoint(std::int64_t id,
                                                  const std::string& checkpoint_literal) const {
  return "UPDATE " + migrations_ + " SET checkpoint = " + checkpoint_literal +
         " WHERE id = " + std::to_string(id);
}

}  // namespace sluice

#pragma once

#include <memory>
#include <string>

#include "src/phase_store.h"
#include "src/postgres/pg_connection.h"

namespace sluice::postgres {

// Phase metadata in `<schema>.migrations`, its layout version in `<schema>.metadata` (schema
// `sluice` by default). Times are the server's clock_timestamp(), shown in UTC.
class PgPhaseStore : public PhaseStore {
 public:
  PgPhaseStore(const Dsn& dsn, const std::optional<std::string>& password, std::string schema);

  void ensure_schema() override;
  int schema_version() override;
  std::vector<MigrationRecord> list() override;
  std::optional<MigrationRecord> find(const std::string& name) override;
  std::int64_t start(const MigrationRecord& record, const std::string& owner) override;
  void set_phase(std::int64_t id, Phase phase, const std::string& error) override;
  bool take_over(std::int64_t id, const std::string& owner) override;
  bool renew_lease(std::int64_t id, const std::string& owner) override;
  void release_lease(std::int64_t id, const std::string& owner) override;
  void save_checkpoint(std::int64_t id, const std::string& checkpoint) override;
  std::optional<std::int64_t> seconds_since(std::int64_t id, Phase phase) override;
  std::string session_id() override;

 private:
  // Runs the layout steps after `from` up to kSchemaVersion (inside the caller's transaction).
  void upgrade(int from);
  std::vector<MigrationRecord> select(const std::string& where,
                                      const std::vector<std::string>& params);

  std::unique_ptr<Connection> connection_;
  std::string schema_;
  std::string migrations_;  // quoted schema.migrations
  std::string metadata_;    // quoted schema.metadata
};

}  // namespace sluice::postgres

#pragma once

#include <memory>
#include <string>

#include "src/mysql/mysql_connection.h"
#include "src/phase_store.h"

namespace sluice::mysql {

// Phase metadata in `<schema>`.`sluice_migrations`, its layout version in
// `<schema>`.`sluice_metadata`. Times are UTC_TIMESTAMP(6).
class MysqlPhaseStore : public PhaseStore {
 public:
  MysqlPhaseStore(const Dsn& dsn, const std::optional<std::string>& password, std::string schema);

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
  bool metadata_exists();
  // Runs the layout steps after `from` up to kSchemaVersion.
  void upgrade(int from);
  std::vector<MigrationRecord> select(const std::string& where);

  std::unique_ptr<Connection> connection_;
  std::string schema_;
  std::string migrations_;  // quoted `schema`.`sluice_migrations`
  std::string metadata_;    // quoted `schema`.`sluice_metadata`
};

}  // namespace sluice::mysql

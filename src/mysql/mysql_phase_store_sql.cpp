#include "src/mysql/mysql_phase_store_sql.h"

#include <mysqld_error.h>

#include "src/mysql/mysql_connection.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

// The server's clock in UTC: DATETIME(6) columns hold UTC text, so runners on hosts in other
// time zones agree on lease expiry.
constexpr std::string_view kNow = "UTC_TIMESTAMP(6)";

std::string timestamp_column(Phase phase) {
  return std::string(phase_name(phase)) + "_at";
}

class MysqlPhaseStoreSql : public PhaseStoreSql {
 public:
  explicit MysqlPhaseStoreSql(std::string schema)
      : schema_(std::move(schema)),
        migrations_(quote(schema_) + "." + quote("sluice_migrations")),
        metadata_(quote(schema_) + "." + quote("sluice_metadata")) {}

  std::string place() const override { return quote(schema_); }

  std::optional<std::string> refusal(const ServerError& error) const override {
    if (has_code(error, ER_BAD_DB_ERROR)) {
      return "the database " + quote(schema_) +
             " for sluice's phase metadata does not exist; create it or choose another with "
             "--metadata-schema";
    }
    if (has_code(error, ER_TABLEACCESS_DENIED_ERROR) || has_code(error, ER_DBACCESS_DENIED_ERROR)) {
      return "cannot keep sluice's phase metadata in " + quote(schema_) + " (" +
             error.server_message() +
             "); grant CREATE, ALTER, SELECT, INSERT and UPDATE on it, or choose another database "
             "with --metadata-schema";
    }
    return std::nullopt;
  }

  Lock lock(const std::string& name_literal, int wait_seconds) const override {
    return {.in_transaction = false,
            .take = "SELECT GET_LOCK(" + name_literal + ", " + std::to_string(wait_seconds) + ")",
            .release = "SELECT RELEASE_LOCK(" + name_literal + ")"};
  }

  std::string metadata_exists(const std::string& schema_literal) const override {
    return "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = " + schema_literal +
           " AND TABLE_NAME = 'sluice_metadata'";
  }

  std::string schema_version() const override { return "SELECT MAX(version) FROM " + metadata_; }

  LayoutStep layout_step(int version, const std::string& schema_literal) const override {
    if (version == 1) {
      std::string phase_times;
      for (Phase phase : all_phases()) {
        phase_times += ", " + timestamp_column(phase) + " DATETIME(6) NULL";
      }
      return {.done = std::nullopt,
              .statements = {
                  "CREATE TABLE IF NOT EXISTS " + migrations_ +
                      " (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(190) NOT "
                      "NULL, table_name VARCHAR(400) NOT NULL, operation VARCHAR(40) NOT NULL, "
                      "spec LONGTEXT NOT NULL, phase VARCHAR(20) NOT NULL" +
                      phase_times +
                      ", checkpoint LONGTEXT NULL, grace_seconds BIGINT NOT NULL DEFAULT 0, "
                      "owner VARCHAR(255) NULL, lease_until DATETIME(6) NULL, UNIQUE KEY name "
                      "(name), KEY table_phase (table_name(190), phase)) ENGINE=InnoDB DEFAULT "
                      "CHARSET=utf8mb4 COMMENT 'sluice phase metadata'",
                  "CREATE TABLE IF NOT EXISTS " + metadata_ +
                      " (version INT NOT NULL) ENGINE=InnoDB COMMENT 'layout version of "
                      "sluice_migrations'"}};
    }
    // Version 2 adds the column `error`.
    return {.done = "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
                    schema_literal +
                    " AND TABLE_NAME = 'sluice_migrations' AND COLUMN_NAME = 'error'",
            .statements = {"ALTER TABLE " + migrations_ + " ADD COLUMN error TEXT NULL"}};
  }

  std::vector<std::string> write_version(int version) const override {
    return {"DELETE FROM " + metadata_,
            "INSERT INTO " + metadata_ + " VALUES (" + std::to_string(version) + ")"};
  }

  std::string select(const std::optional<std::string>& filter) const override {
    std::string phase_times;
    for (Phase phase : all_phases()) {
      phase_times += ", " + timestamp_column(phase);
    }
    return "SELECT id, name, table_name, operation, spec, phase, checkpoint, grace_seconds, "
           "owner, lease_until, lease_until IS NOT NULL AND lease_until > " +
           std::string(kNow) + ", error" + phase_times + " FROM " + migrations_ + " WHERE " +
           filter.value_or("TRUE") + " ORDER BY id";
  }

  std::string named(const std::string& name_literal) const override {
    return "name = " + name_literal;
  }

  std::string in_progress(const std::string& table_literal) const override {
    std::string phases;
    for (Phase phase : all_phases()) {
      if (phase_in_progress(phase)) {
        phases +=
            std::string(phases.empty() ? "" : ", ") + "'" + std::string(phase_name(phase)) + "'";
      }
    }
    return "table_name = " + table_literal + " AND phase IN (" + phases + ")";
  }

  std::string insert(const NewMigration& migration) const override {
    return "INSERT INTO " + migrations_ +
           " (name, table_name, operation, spec, phase, planned_at, grace_seconds, owner, "
           "lease_until) VALUES (" +
           migration.name_literal + ", " + migration.table_literal + ", " +
           migration.operation_literal + ", " + migration.spec_literal + ", 'planned', " +
           std::string(kNow) + ", " + std::to_string(migration.grace_seconds) + ", " +
           migration.owner_literal + ", " + lease_expiry() + ")";
  }

  std::string last_insert_id() const override { return "SELECT LAST_INSERT_ID()"; }

  std::string set_phase(std::int64_t id, Phase phase,
                        const std::optional<std::string>& error_literal) const override {
    return "UPDATE " + migrations_ + " SET phase = '" + std::string(phase_name(phase)) + "', " +
           timestamp_column(phase) + " = " + std::string(kNow) +
           (error_literal ? ", error = " + *error_literal : "") +
           " WHERE id = " + std::to_string(id);
  }

  std::string take_over(std::int64_t id, const std::string& owner_literal) const override {
    return "UPDATE " + migrations_ + " SET owner = " + owner_literal +
           ", lease_until = " + lease_expiry() + " WHERE id = " + std::to_string(id) +
           " AND (lease_until IS NULL OR lease_until <= " + std::string(kNow) + ")";
  }

  std::string renew_lease(std::int64_t id, const std::string& owner_literal) const override {
    return "UPDATE " + migrations_ + " SET lease_until = " + lease_expiry() +
           " WHERE id = " + std::to_string(id) + " AND owner = " + owner_literal +
           " AND lease_until IS NOT NULL";
  }

  std::string release_lease(std::int64_t id, const std::string& owner_literal) const override {
    return "UPDATE " + migrations_ + " SET lease_until = NULL WHERE id = " + std::to_string(id) +
           " AND owner = " + owner_literal;
  }

  std::string save_checkpoint(std::int64_t id,
                              const std::string& checkpoint_literal) const override {
    return "UPDATE " + migrations_ + " SET checkpoint = " + checkpoint_literal +
           " WHERE id = " + std::to_string(id);
  }

  std::string seconds_since(std::int64_t id, Phase phase) const override {
    return "SELECT TIMESTAMPDIFF(SECOND, " + timestamp_column(phase) + ", " + std::string(kNow) +
           ") FROM " + migrations_ + " WHERE id = " + std::to_string(id);
  }

  std::string session_id() const override { return "SELECT CONNECTION_ID()"; }

 private:
  static std::string lease_expiry() {
    return std::string(kNow) + " + INTERVAL " + std::to_string(PhaseStore::kLeaseSeconds) +
           " SECOND";
  }

  std::string schema_;
  std::string migrations_;  // quoted `schema`.`sluice_migrations`
  std::string metadata_;    // quoted `schema`.`sluice_metadata`
};

}  // namespace

std::unique_ptr<const PhaseStoreSql> mysql_phase_store_sql(const std::string& schema) {
  return std::make_unique<MysqlPhaseStoreSql>(schema);
}

}  // namespace sluice::mysql

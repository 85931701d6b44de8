#include "src/mysql/mysql_phase_store_sql.h"

#include <mysqld_error.h>

#include "src/mysql/mysql_connection.h"
#include "src/mysql/mysql_sql.h"
#include "src/sql/phase_store_statements.h"

namespace sluice::mysql {
namespace {

class MysqlPhaseStoreSql : public PhaseStoreStatements {
 public:
  explicit MysqlPhaseStoreSql(const std::string& schema)
      : PhaseStoreStatements(quote(schema) + "." + quote("sluice_migrations"),
                             quote(schema) + "." + quote("sluice_metadata")),
        schema_(schema) {}

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

  std::string last_insert_id() const override { return "SELECT LAST_INSERT_ID()"; }

  std::string seconds_since(std::int64_t id, Phase phase) const override {
    return "SELECT TIMESTAMPDIFF(SECOND, " + timestamp_column(phase) + ", " + now() + ") FROM " +
           migrations_ + " WHERE id = " + std::to_string(id);
  }

  std::string session_id() const override { return "SELECT CONNECTION_ID()"; }

 private:
  // The server's clock in UTC: DATETIME(6) columns hold UTC text, so runners on hosts in other
  // time zones agree on lease expiry.
  std::string now() const override { return "UTC_TIMESTAMP(6)"; }
  std::string lease_expiry() const override {
    return now() + " + INTERVAL " + std::to_string(PhaseStore::kLeaseSeconds) + " SECOND";
  }
  // DATETIME(6) reads as that text already.
  std::string utc_text(const std::string& column) const override { return column; }

  std::string schema_;
};

}  // namespace

std::unique_ptr<const PhaseStoreSql> mysql_phase_store_sql(const std::string& schema) {
  return std::make_unique<MysqlPhaseStoreSql>(schema);
}

}  // namespace sluice::mysql

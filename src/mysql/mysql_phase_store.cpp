#include "src/mysql/mysql_phase_store.h"

#include <mysqld_error.h>

#include "ddl/identifier.h"
#include "src/error.h"

namespace sluice::mysql {
namespace {

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::mysql, name);
}

std::string timestamp_column(Phase phase) {
  return std::string(phase_name(phase)) + "_at";
}

std::string lease_expiry() {
  return "UTC_TIMESTAMP(6) + INTERVAL " + std::to_string(PhaseStore::kLeaseSeconds) + " SECOND";
}

// Holds a server-side named lock for as long as it lives.
class NamedLock {
 public:
  NamedLock(Connection& connection, const std::string& name) : connection_(connection) {
    name_ = connection.quote_literal(name);
    if (connection.query_value("SELECT GET_LOCK(" + name_ + ", 30)") != "1") {
      throw Error(ExitCode::failure, "another sluice held the lock " + name +
                                         " on the server for 30 s; try again when it is done");
    }
  }
  ~NamedLock() {
    try {
      connection_.query_value("SELECT RELEASE_LOCK(" + name_ + ")");
    } catch (const std::exception&) {
      // The lock goes with the session anyway.
    }
  }
  NamedLock(const NamedLock&) = delete;
  NamedLock& operator=(const NamedLock&) = delete;

 private:
  Connection& connection_;
  std::string name_;
};

// A privilege the phase metadata needs is missing: a precondition, named with its fix, not a
// failure of sluice.
void refuse_denied_access(const ServerError& error, const std::string& schema) {
  if (has_code(error, ER_TABLEACCESS_DENIED_ERROR) ||
      has_code(error, ER_DBACCESS_DENIED_ERROR)) {
    throw Error(ExitCode::preflight_failed,
                "cannot keep sluice's phase metadata in " + quote(schema) + " (" + error.what() +
                    "); grant CREATE, ALTER, SELECT, INSERT and UPDATE on it, or choose another "
                    "database with --metadata-schema");
  }
}

}  // namespace

MysqlPhaseStore::MysqlPhaseStore(const Dsn& dsn, const std::optional<std::string>& password,
                                 std::string schema)
    : connection_(std::make_unique<Connection>(dsn, password)),
      schema_(std::move(schema)),
      migrations_(quote(schema_) + "." + quote("sluice_migrations")),
      metadata_(quote(schema_) + "." + quote("sluice_metadata")) {}

bool MysqlPhaseStore::metadata_exists() {
  return connection_
             ->query_value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                           connection_->quote_literal(schema_) +
                           " AND TABLE_NAME = 'sluice_metadata'")
             .value_or("0") != "0";
}

int MysqlPhaseStore::schema_version() {
  if (!metadata_exists()) {
    return 0;
  }
  try {
    return std::stoi(
        connection_->query_value("SELECT MAX(version) FROM " + metadata_).value_or("0"));
  } catch (const ServerError& error) {
    refuse_denied_access(error, schema_);
    throw;
  }
}

void MysqlPhaseStore::ensure_schema() {
  NamedLock lock(*connection_, "sluice_metadata:" + schema_);
  const int version = schema_version();
  if (!layout_needs_upgrade(version, quote(schema_))) {
    return;
  }
  try {
    upgrade(version);
  } catch (const ServerError& error) {
    if (has_code(error, ER_BAD_DB_ERROR)) {
      throw Error(ExitCode::preflight_failed,
                  "the database " + quote(schema_) +
                      " for sluice's phase metadata does not exist; create it or choose another "
                      "with --metadata-schema");
    }
    refuse_denied_access(error, schema_);
    throw;
  }
}

void MysqlPhaseStore::upgrade(int from) {
  // Each step leaves the layout of its version; DDL is not transactional, so every step can run
  // again after a crash in its middle.
  if (from < 1) {
    std::string phase_times;
    for (Phase phase : all_phases()) {
      phase_times += ", " + timestamp_column(phase) + " DATETIME(6) NULL";
    }
    connection_->execute("CREATE TABLE IF NOT EXISTS " + migrations_ +
                         " (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                         "name VARCHAR(190) NOT NULL, table_name VARCHAR(400) NOT NULL, "
                         "operation VARCHAR(40) NOT NULL, spec LONGTEXT NOT NULL, "
                         "phase VARCHAR(20) NOT NULL" +
                         phase_times +
                         ", checkpoint LONGTEXT NULL, grace_seconds BIGINT NOT NULL DEFAULT 0, "
                         "owner VARCHAR(255) NULL, lease_until DATETIME(6) NULL, "
                         "UNIQUE KEY name (name), KEY table_phase (table_name(190), phase)) "
                         "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT 'sluice phase metadata'");
    connection_->execute("CREATE TABLE IF NOT EXISTS " + metadata_ +
                         " (version INT NOT NULL) ENGINE=InnoDB "
                         "COMMENT 'layout version of sluice_migrations'");
    connection_->execute("DELETE FROM " + metadata_);
    connection_->execute("INSERT INTO " + metadata_ + " VALUES (1)");
  }
  if (from < 2) {
    const bool has_error =
        connection_
            ->query_value("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
                          connection_->quote_literal(schema_) +
                          " AND TABLE_NAME = 'sluice_migrations' AND COLUMN_NAME = 'error'")
            .value_or("0") != "0";
    if (!has_error) {
      connection_->execute("ALTER TABLE " + migrations_ + " ADD COLUMN error TEXT NULL");
    }
    connection_->execute("UPDATE " + metadata_ + " SET version = 2");
  }
}

std::vector<MigrationRecord> MysqlPhaseStore::select(const std::string& where) {
  const int version = schema_version();
  if (version == 0) {
    return {};
  }
  if (version != kSchemaVersion) {
    ensure_schema();  // an older layout is upgraded in place; a newer one is refused
  }
  std::string phase_times;
  for (Phase phase : all_phases()) {
    phase_times += ", " + timestamp_column(phase);
  }
  const std::vector<ResultRow> rows = connection_->query(
      "SELECT id, name, table_name, operation, spec, phase, checkpoint, grace_seconds, owner, "
      "lease_until, lease_until IS NOT NULL AND lease_until > UTC_TIMESTAMP(6), error" +
      phase_times + " FROM " + migrations_ + " WHERE " + where + " ORDER BY id");
  std::vector<MigrationRecord> records;
  for (const ResultRow& row : rows) {
    records.push_back(record_from_row(row));
  }
  return records;
}

std::vector<MigrationRecord> MysqlPhaseStore::list() {
  return select("TRUE");
}

std::optional<MigrationRecord> MysqlPhaseStore::find(const std::string& name) {
  std::vector<MigrationRecord> records = select("name = " + connection_->quote_literal(name));
  if (records.empty()) {
    return std::nullopt;
  }
  return std::move(records.front());
}

std::int64_t MysqlPhaseStore::start(const MigrationRecord& record, const std::string& owner) {
  // One runner at a time decides for a table: the check and the insert happen under this lock.
  NamedLock lock(*connection_, "sluice_migration:" + schema_ + ":" + record.table);
  if (find(record.name)) {
    throw Error(ExitCode::usage,
                "a migration named '" + record.name + "' is already recorded; choose another name");
  }
  std::string in_progress;
  for (Phase phase : all_phases()) {
    if (phase_in_progress(phase)) {
      in_progress +=
          std::string(in_progress.empty() ? "" : ", ") + "'" + std::string(phase_name(phase)) + "'";
    }
  }
  claim_table(*this, record, owner,
              select("table_name = " + connection_->quote_literal(record.table) +
                     " AND phase IN (" + in_progress + ")"));
  connection_->execute("INSERT INTO " + migrations_ +
                       " (name, table_name, operation, spec, phase, planned_at, grace_seconds, "
                       "owner, lease_until) VALUES (" +
                       connection_->quote_literal(record.name) + ", " +
                       connection_->quote_literal(record.table) + ", " +
                       connection_->quote_literal(record.operation) + ", " +
                       connection_->quote_literal(record.spec) + ", 'planned', UTC_TIMESTAMP(6), " +
                       std::to_string(record.grace_seconds) + ", " +
                       connection_->quote_literal(owner) + ", " + lease_expiry() + ")");
  return std::stoll(connection_->query_value("SELECT LAST_INSERT_ID()").value_or("0"));
}

void MysqlPhaseStore::set_phase(std::int64_t id, Phase phase, const std::string& error) {
  connection_->execute("UPDATE " + migrations_ + " SET phase = '" + std::string(phase_name(phase)) +
                       "', " + timestamp_column(phase) + " = UTC_TIMESTAMP(6)" +
                       (error.empty() ? "" : ", error = " + connection_->quote_literal(error)) +
                       " WHERE id = " + std::to_string(id));
}

bool MysqlPhaseStore::take_over(std::int64_t id, const std::string& owner) {
  return connection_->execute(
             "UPDATE " + migrations_ + " SET owner = " + connection_->quote_literal(owner) +
             ", lease_until = " + lease_expiry() + " WHERE id = " + std::to_string(id) +
             " AND (lease_until IS NULL OR lease_until <= UTC_TIMESTAMP(6))") == 1;
}

bool MysqlPhaseStore::renew_lease(std::int64_t id, const std::string& owner) {
  return connection_->execute("UPDATE " + migrations_ + " SET lease_until = " + lease_expiry() +
                              " WHERE id = " + std::to_string(id) +
                              " AND owner = " + connection_->quote_literal(owner) +
                              " AND lease_until IS NOT NULL") == 1;
}

void MysqlPhaseStore::release_lease(std::int64_t id, const std::string& owner) {
  connection_->execute("UPDATE " + migrations_ + " SET lease_until = NULL WHERE id = " +
                       std::to_string(id) + " AND owner = " + connection_->quote_literal(owner));
}

void MysqlPhaseStore::save_checkpoint(std::int64_t id, const std::string& checkpoint) {
  connection_->execute("UPDATE " + migrations_ +
                       " SET checkpoint = " + connection_->quote_literal(checkpoint) +
                       " WHERE id = " + std::to_string(id));
}

std::optional<std::int64_t> MysqlPhaseStore::seconds_since(std::int64_t id, Phase phase) {
  const std::optional<std::string> seconds = connection_->query_value(
      "SELECT TIMESTAMPDIFF(SECOND, " + timestamp_column(phase) + ", UTC_TIMESTAMP(6)) FROM " +
      migrations_ + " WHERE id = " + std::to_string(id));
  if (!seconds) {
    return std::nullopt;
  }
  return std::stoll(*seconds);
}

std::string MysqlPhaseStore::session_id() {
  return std::to_string(connection_->id());
}

}  // namespace sluice::mysql

#include "src/postgres/pg_phase_store.h"

#include "ddl/identifier.h"
#include "src/error.h"
#include "src/session.h"

namespace sluice::postgres {
namespace {

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::postgres, name);
}

std::string timestamp_column(Phase phase) {
  return std::string(phase_name(phase)) + "_at";
}

std::string utc_text(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')";
}

std::string lease_expiry() {
  return "clock_timestamp() + interval '" + std::to_string(PhaseStore::kLeaseSeconds) + " seconds'";
}

}  // namespace

PgPhaseStore::PgPhaseStore(const Dsn& dsn, const std::optional<std::string>& password,
                           std::string schema)
    : connection_(std::make_unique<Connection>(dsn, password)),
      schema_(std::move(schema)),
      migrations_(quote(schema_) + "." + quote("migrations")),
      metadata_(quote(schema_) + "." + quote("metadata")) {}

int PgPhaseStore::schema_version() {
  const std::optional<std::string> exists =
      connection_->query_value("SELECT to_regclass($1) IS NOT NULL", {metadata_});
  if (exists != "t") {
    return 0;
  }
  return std::stoi(connection_->query_value("SELECT max(version) FROM " + metadata_).value_or("0"));
}

void PgPhaseStore::ensure_schema() {
  Transaction transaction(*connection_);
  // Concurrent runners upgrade once: the second waits here and then finds the new version.
  connection_->query("SELECT pg_advisory_xact_lock(hashtext($1))", {"sluice_metadata:" + schema_});
  const int version = schema_version();
  if (!layout_needs_upgrade(version, "schema " + quote(schema_))) {
    return;
  }
  try {
    upgrade(version);
  } catch (const Error& error) {
    if (std::string(error.what()).find("permission denied") != std::string::npos) {
      throw Error(ExitCode::preflight_failed,
                  "cannot keep sluice's phase metadata in schema " + quote(schema_) + " (" +
                      error.what() +
                      "); let the user create it (GRANT CREATE ON DATABASE), have an "
                      "administrator create the schema owned by the user, or choose another "
                      "schema with --metadata-schema");
    }
    throw;
  }
  transaction.commit();
}

void PgPhaseStore::upgrade(int from) {
  if (from < 1) {
    std::string phase_times;
    for (Phase phase : all_phases()) {
      phase_times += ", " + timestamp_column(phase) + " timestamptz";
    }
    connection_->execute("CREATE SCHEMA IF NOT EXISTS " + quote(schema_));
    connection_->execute("CREATE TABLE IF NOT EXISTS " + migrations_ +
                         " (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, "
                         "table_name text NOT NULL, operation text NOT NULL, spec text NOT NULL, "
                         "phase text NOT NULL" +
                         phase_times +
                         ", checkpoint text, grace_seconds bigint NOT NULL DEFAULT 0, owner text, "
                         "lease_until timestamptz)");
    connection_->execute("CREATE INDEX IF NOT EXISTS migrations_table_phase ON " + migrations_ +
                         " (table_name, phase)");
    connection_->execute("COMMENT ON TABLE " + migrations_ + " IS 'sluice phase metadata'");
    connection_->execute("CREATE TABLE IF NOT EXISTS " + metadata_ + " (version int NOT NULL)");
    connection_->execute("DELETE FROM " + metadata_);
    connection_->execute("INSERT INTO " + metadata_ + " VALUES (1)");
  }
  if (from < 2) {
    connection_->execute("ALTER TABLE " + migrations_ + " ADD COLUMN IF NOT EXISTS error text");
    connection_->execute("UPDATE " + metadata_ + " SET version = 2");
  }
}

std::vector<MigrationRecord> PgPhaseStore::select(const std::string& where,
                                                  const std::vector<std::string>& params) {
  const int version = schema_version();
  if (version == 0) {
    return {};
  }
  if (version != kSchemaVersion) {
    ensure_schema();  // an older layout is upgraded in place; a newer one is refused
  }
  std::string phase_times;
  for (Phase phase : all_phases()) {
    phase_times += ", " + utc_text(timestamp_column(phase));
  }
  const std::vector<ResultRow> rows = connection_->query(
      "SELECT id, name, table_name, operation, spec, phase, checkpoint, grace_seconds, owner, " +
          utc_text("lease_until") + ", coalesce(lease_until > clock_timestamp(), false), error" +
          phase_times + " FROM " + migrations_ + " WHERE " + where + " ORDER BY id",
      params);
  std::vector<MigrationRecord> records;
  for (const ResultRow& row : rows) {
    records.push_back(record_from_row(row));
  }
  return records;
}

std::vector<MigrationRecord> PgPhaseStore::list() {
  return select("true", {});
}

std::optional<MigrationRecord> PgPhaseStore::find(const std::string& name) {
  std::vector<MigrationRecord> records = select("name = $1", {name});
  if (records.empty()) {
    return std::nullopt;
  }
  return std::move(records.front());
}

std::int64_t PgPhaseStore::start(const MigrationRecord& record, const std::string& owner) {
  Transaction transaction(*connection_);
  // One runner at a time decides for a table: the check and the insert happen under this lock.
  connection_->query("SELECT pg_advisory_xact_lock(hashtext($1))",
                     {"sluice_migration:" + schema_ + ":" + record.table});
  if (find(record.name)) {
    throw Error(ExitCode::usage,
                "a migration named '" + record.name + "' is already recorded; choose another name");
  }
  claim_table(*this, record, owner,
              select("table_name = $1 AND phase IN ('planned', 'expanding', 'backfilling')",
                     {record.table}));
  const std::optional<std::string> id = connection_->query_value(
      "INSERT INTO " + migrations_ +
          " (name, table_name, operation, spec, phase, planned_at, grace_seconds, owner, "
          "lease_until) VALUES ($1, $2, $3, $4, 'planned', clock_timestamp(), $5, $6, " +
          lease_expiry() + ") RETURNING id",
      {record.name, record.table, record.operation, record.spec,
       std::to_string(record.grace_seconds), owner});
  transaction.commit();
  return std::stoll(id.value_or("0"));
}

void PgPhaseStore::set_phase(std::int64_t id, Phase phase, const std::string& error) {
  connection_->query("UPDATE " + migrations_ + " SET phase = $1, " + timestamp_column(phase) +
                         " = clock_timestamp(), error = coalesce(nullif($2, ''), error) "
                         "WHERE id = $3",
                     {std::string(phase_name(phase)), error, std::to_string(id)});
}

bool PgPhaseStore::take_over(std::int64_t id, const std::string& owner) {
  return connection_
             ->query("UPDATE " + migrations_ + " SET owner = $2, lease_until = " + lease_expiry() +
                         " WHERE id = $1 AND (lease_until IS NULL OR lease_until <= "
                         "clock_timestamp()) RETURNING id",
                     {std::to_string(id), owner})
             .size() == 1;
}

bool PgPhaseStore::renew_lease(std::int64_t id, const std::string& owner) {
  return connection_
             ->query("UPDATE " + migrations_ + " SET lease_until = " + lease_expiry() +
                         " WHERE id = $1 AND owner = $2 AND lease_until IS NOT NULL RETURNING id",
                     {std::to_string(id), owner})
             .size() == 1;
}

void PgPhaseStore::release_lease(std::int64_t id, const std::string& owner) {
  connection_->query(
      "UPDATE " + migrations_ + " SET lease_until = NULL WHERE id = $1 AND owner = $2",
      {std::to_string(id), owner});
}

void PgPhaseStore::save_checkpoint(std::int64_t id, const std::string& checkpoint) {
  connection_->query("UPDATE " + migrations_ + " SET checkpoint = $1 WHERE id = $2",
                     {checkpoint, std::to_string(id)});
}

std::optional<std::int64_t> PgPhaseStore::seconds_since(std::int64_t id, Phase phase) {
  const std::optional<std::string> seconds = connection_->query_value(
      "SELECT floor(extract(epoch FROM clock_timestamp() - " + timestamp_column(phase) +
          "))::bigint FROM " + migrations_ + " WHERE id = $1",
      {std::to_string(id)});
  if (!seconds) {
    return std::nullopt;
  }
  return std::stoll(*seconds);
}

std::string PgPhaseStore::session_id() {
  return std::to_string(PQbackendPID(connection_->handle()));
}

}  // namespace sluice::postgres

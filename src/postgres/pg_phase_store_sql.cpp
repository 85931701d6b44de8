#include "src/postgres/pg_phase_store_sql.h"

#include "ddl/identifier.h"
#include "src/sql/phase_store_statements.h"

namespace sluice::postgres {
namespace {

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::postgres, name);
}

class PgPhaseStoreSql : public PhaseStoreStatements {
 public:
  explicit PgPhaseStoreSql(const std::string& schema)
      : PhaseStoreStatements(quote(schema) + "." + quote("migrations"),
                             quote(schema) + "." + quote("metadata")),
        schema_(schema) {}

  std::string place() const override { return "schema " + quote(schema_); }

  std::optional<std::string> refusal(const ServerError& error) const override {
    if (error.code() != "42501") {
      return std::nullopt;
    }
    return "cannot keep sluice's phase metadata in schema " + quote(schema_) + " (" +
           error.server_message() +
           "); let the user create it (GRANT CREATE ON DATABASE), have an administrator create "
           "the schema owned by the user, or choose another schema with --metadata-schema";
  }

  // The lock is the transaction's, so the layout's DDL and a start's check-and-insert commit
  // or roll back with it; PostgreSQL bounds its wait by lock_timeout, not by `wait_seconds`.
  Lock lock(const std::string& name_literal, int /*wait_seconds*/) const override {
    return {.in_transaction = true,
            .take = "SELECT 1 FROM pg_advisory_xact_lock(hashtext(" + name_literal + "))",
            .release = std::nullopt};
  }

  std::string metadata_exists(const std::string& schema_literal) const override {
    return "SELECT to_regclass(format('%I.%I', " + schema_literal + ", 'metadata')) IS NOT NULL";
  }

  LayoutStep layout_step(int version, const std::string& /*schema_literal*/) const override {
    if (version == 1) {
      std::string phase_times;
      for (Phase phase : all_phases()) {
        phase_times += ", " + timestamp_column(phase) + " timestamptz";
      }
      return {.done = std::nullopt,
              .statements = {
                  "CREATE SCHEMA IF NOT EXISTS " + quote(schema_),
                  "CREATE TABLE IF NOT EXISTS " + migrations_ +
                      " (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, table_name text "
                      "NOT NULL, operation text NOT NULL, spec text NOT NULL, phase text NOT "
                      "NULL" +
                      phase_times +
                      ", checkpoint text, grace_seconds bigint NOT NULL DEFAULT 0, owner text, "
                      "lease_until timestamptz)",
                  "CREATE INDEX IF NOT EXISTS migrations_table_phase ON " + migrations_ +
                      " (table_name, phase)",
                  "COMMENT ON TABLE " + migrations_ + " IS 'sluice phase metadata'",
                  "CREATE TABLE IF NOT EXISTS " + metadata_ + " (version int NOT NULL)"}};
    }
    // Version 2 adds the column `error`.
    return {.done = std::nullopt,
            .statements = {"ALTER TABLE " + migrations_ + " ADD COLUMN IF NOT EXISTS error text"}};
  }

  // The bigserial value the INSERT just drew on this session.
  std::string last_insert_id() const override { return "SELECT lastval()"; }

  std::string seconds_since(std::int64_t id, Phase phase) const override {
    return "SELECT floor(extract(epoch FROM " + now() + " - " + timestamp_column(phase) +
           "))::bigint FROM " + migrations_ + " WHERE id = " + std::to_string(id);
  }

  std::string session_id() const override { return "SELECT pg_backend_pid()"; }

 private:
  // clock_timestamp(), not now(): a runner's transaction may be long, and leases and phase times
  // must be the moment of the statement.
  std::string now() const override { return "clock_timestamp()"; }
  std::string lease_expiry() const override {
    return now() + " + interval '" + std::to_string(PhaseStore::kLeaseSeconds) + " seconds'";
  }
  // A timestamptz as UTC text in MySQL's DATETIME(6) format, so records read alike on both.
  std::string utc_text(const std::string& column) const override {
    return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')";
  }

  std::string schema_;
};

}  // namespace

std::unique_ptr<const PhaseStoreSql> pg_phase_store_sql(const std::string& schema) {
  return std::make_unique<PgPhaseStoreSql>(schema);
}

}  // namespace sluice::postgres

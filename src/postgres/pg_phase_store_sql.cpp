#include "src/postgres/pg_phase_store_sql.h"

#include "ddl/identifier.h"

namespace sluice::postgres {
namespace {

// clock_timestamp(), not now(): a runner's transaction may be long, and leases and phase times
// must be the moment of the statement.
constexpr std::string_view kNow = "clock_timestamp()";

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::postgres, name);
}

std::string timestamp_column(Phase phase) {
  return std::string(phase_name(phase)) + "_at";
}

// A timestamptz as UTC text in MySQL's DATETIME(6) format, so records read alike on both.
std::string utc_text(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')";
}

std::string lease_expiry() {
  return std::string(kNow) + " + interval '" + std::to_string(PhaseStore::kLeaseSeconds) +
         " seconds'";
}

class PgPhaseStoreSql : public PhaseStoreSql {
 public:
  explicit PgPhaseStoreSql(std::string schema)
      : schema_(std::move(schema)),
        migrations_(quote(schema_) + "." + quote("migrations")),
        metadata_(quote(schema_) + "." + quote("metadata")) {}

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

  std::string schema_version() const override { return "SELECT max(version) FROM " + metadata_; }

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

  std::vector<std::string> write_version(int version) const override {
    return {"DELETE FROM " + metadata_,
            "INSERT INTO " + metadata_ + " VALUES (" + std::to_string(version) + ")"};
  }

  std::string select(const std::optional<std::string>& filter) const override {
    std::string phase_times;
    for (Phase phase : all_phases()) {
      phase_times += ", " + utc_text(timestamp_column(phase));
    }
    return "SELECT id, name, table_name, operation, spec, phase, checkpoint, grace_seconds, "
           "owner, " +
           utc_text("lease_until") + ", coalesce(lease_until > " + std::string(kNow) +
           ", false), error" + phase_times + " FROM " + migrations_ + " WHERE " +
           filter.value_or("true") + " ORDER BY id";
  }

  std::string named(const std::string& name_literal) const override {
    return "name = " + name_literal;
  }

  std::string in_progress(const std::string& table_literal) const override {
    return "table_name = " + table_literal +
           " AND phase IN ('planned', 'expanding', 'backfilling')";
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

  // The bigserial value the INSERT just drew on this session.
  std::string last_insert_id() const override { return "SELECT lastval()"; }

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
    return "SELECT floor(extract(epoch FROM " + std::string(kNow) + " - " +
           timestamp_column(phase) + "))::bigint FROM " + migrations_ +
           " WHERE id = " + std::to_string(id);
  }

  std::string session_id() const override { return "SELECT pg_backend_pid()"; }

 private:
  std::string schema_;
  std::string migrations_;  // quoted schema.migrations
  std::string metadata_;    // quoted schema.metadata
};

}  // namespace

std::unique_ptr<const PhaseStoreSql> pg_phase_store_sql(const std::string& schema) {
  return std::make_unique<PgPhaseStoreSql>(schema);
}

}  // namespace sluice::postgres

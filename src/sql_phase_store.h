#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/phase_store.h"
#include "src/session.h"

namespace sluice {

// The SQL of one server family's phase metadata: the engine's SqlPhaseStore decides what runs
// and when, the family writes the text (docs/architecture.md, "the engine never contains server
// SQL"). Implementations are pure: no session; values arrive as literals the engine quoted with
// Session::quote_literal, ids and versions as numbers. One instance describes the metadata of
// one schema (MySQL: a database), fixed at construction.
class PhaseStoreSql {
 public:
  virtual ~PhaseStoreSql() = default;

  // How messages name the place of the metadata (MySQL: `db`; PostgreSQL: schema "sluice").
  virtual std::string place() const = 0;

  // The sentence of an Error(ExitCode::preflight_failed) when `error`, raised while the metadata
  // was read or laid out, means the user lacks a privilege or the place does not exist, naming
  // the fix; nullopt for any other refusal.
  virtual std::optional<std::string> refusal(const ServerError& error) const = 0;

  // A server-side lock that keeps concurrent runners apart while one lays out the metadata or
  // records a migration.
  struct Lock {
    // The lock lasts for a transaction the engine opens first (PostgreSQL: DDL is transactional,
    // so the work under the lock commits at once). Otherwise it is the session's and `release`
    // gives it back (MySQL: DDL commits implicitly, so no transaction could hold it).
    bool in_transaction = false;
    std::string take;  // a query whose value is "1" once the lock is held
    std::optional<std::string> release;
  };
  // The lock called `name_literal`, waited for at most `wait_seconds` where the server bounds
  // the wait itself (PostgreSQL's advisory locks wait as long as its lock_timeout lets them).
  virtual Lock lock(const std::string& name_literal, int wait_seconds) const = 0;

  // A query whose value is "1" or "t" when the layout-version table exists in the schema named
  // by `schema_literal`.
  virtual std::string metadata_exists(const std::string& schema_literal) const = 0;
  // A query whose value is the stored layout version.
  virtual std::string schema_version() const = 0;

  // What turns layout `version - 1` into `version` (1 ≤ version ≤ PhaseStore::kSchemaVersion).
  struct LayoutStep {
    // A query whose value "1" or "t" says the statements' work is there already (MySQL has no
    // ADD COLUMN IF NOT EXISTS); nullopt when the statements are safe to run again as they are.
    std::optional<std::string> done;
    std::vector<std::string> statements;
  };
  virtual LayoutStep layout_step(int version, const std::string& schema_literal) const = 0;
  // The statements that record `version` as the stored layout version.
  virtual std::vector<std::string> write_version(int version) const = 0;

  // The migrations matching `filter` (a condition from the two below; every one for nullopt),
  // oldest first, with the columns record_from_row (src/phase_store.h) reads, times as UTC text.
  virtual std::string select(const std::optional<std::string>& filter) const = 0;
  virtual std::string named(const std::string& name_literal) const = 0;
  // The migrations of `table_literal` in a phase where phase_in_progress() holds.
  virtual std::string in_progress(const std::string& table_literal) const = 0;

  // Records a migration in phase planned, stamped now, leased to `owner_literal` for
  // PhaseStore::kLeaseSeconds; `last_insert_id` then reads its id on the same session.
  struct NewMigration {
    std::string name_literal;
    std::string table_literal;
    std::string operation_literal;
    std::string spec_literal;
    std::int64_t grace_seconds = 0;
    std::string owner_literal;
  };
  virtual std::string insert(const NewMigration& migration) const = 0;
  virtual std::string last_insert_id() const = 0;

  // Moves `id` to `phase`, stamped now; `error_literal`, when given, becomes its error.
  virtual std::string set_phase(std::int64_t id, Phase phase,
                                const std::optional<std::string>& error_literal) const = 0;
  // Each changes one row when it succeeds (see PhaseStore's methods of the same names).
  virtual std::string take_over(std::int64_t id, const std::string& owner_literal) const = 0;
  virtual std::string renew_lease(std::int64_t id, const std::string& owner_literal) const = 0;
  virtual std::string release_lease(std::int64_t id, const std::string& owner_literal) const = 0;
  virtual std::string save_checkpoint(std::int64_t id,
                                      const std::string& checkpoint_literal) const = 0;
  // A query whose value is the whole seconds since `id` entered `phase` (NULL if it never did).
  virtual std::string seconds_since(std::int64_t id, Phase phase) const = 0;
  // A query whose value is the server's id of the session (see PhaseStore::session_id).
  virtual std::string session_id() const = 0;
};

// The PhaseStore of every family, written once (docs/architecture.md, "where each noun lives"):
// layout versions and upgrades, the check-and-insert of start(), leases, all over `session`
// with the SQL of `sql`. Owns its session; use it from one thread.
class SqlPhaseStore : public PhaseStore {
 public:
  // `schema` is the place of the metadata as the user named it; lock names include it.
  SqlPhaseStore(std::unique_ptr<Session> session, std::unique_ptr<const PhaseStoreSql> sql,
                std::string schema);

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
  // Runs the layout steps after `from` up to kSchemaVersion.
  void upgrade(int from);
  std::vector<MigrationRecord> select(const std::optional<std::string>& filter);
  std::string literal(const std::string& text) { return session_->quote_literal(text); }

  std::unique_ptr<Session> session_;
  std::unique_ptr<const PhaseStoreSql> sql_;
  std::string schema_;
};

}  // namespace sluice

#include "src/sql_phase_store.h"

#include "src/error.h"

namespace sluice {
namespace {

// How long a runner waits for another one's metadata lock where the server bounds the wait.
constexpr int kLockWaitSeconds = 30;

bool is_true(const std::optional<std::string>& value) {
  return value == "1" || value == "t";
}

// Holds a PhaseStoreSql::Lock for as long as it lives; with a lock of a transaction, also the
// transaction (rolled back unless commit() was called).
class MetadataLock {
 public:
  MetadataLock(Session& session, const PhaseStoreSql& sql, const std::string& name)
      : session_(session), lock_(sql.lock(session.quote_literal(name), kLockWaitSeconds)) {
    if (lock_.in_transaction) {
      transaction_.emplace(session);
    }
    if (session.query_value(lock_.take) != "1") {
      throw Error(ExitCode::failure, "another sluice held the lock " + name +
                                         " on the server for " + std::to_string(kLockWaitSeconds) +
                                         " s; try again when it is done");
    }
    held_ = true;
  }
  ~MetadataLock() {
    if (!held_ || !lock_.release) {
      return;
    }
    try {
      session_.query_value(*lock_.release);
    } catch (const std::exception&) {
      // The lock goes with the session anyway.
    }
  }
  MetadataLock(const MetadataLock&) = delete;
  MetadataLock& operator=(const MetadataLock&) = delete;

  // Commits the work done under the lock when the lock is a transaction's (else it committed
  // statement by statement).
  void commit() {
    if (transaction_) {
      transaction_->commit();
    }
  }

 private:
  Session& session_;
  PhaseStoreSql::Lock lock_;
  std::optional<Transaction> transaction_;
  bool held_ = false;
};

}  // namespace

SqlPhaseStore::SqlPhaseStore(std::unique_ptr<Session> session,
                             std::unique_ptr<const PhaseStoreSql> sql, std::string schema)
    : session_(std::move(session)), sql_(std::move(sql)), schema_(std::move(schema)) {}

int SqlPhaseStore::schema_version() {
  try {
    if (!is_true(session_->query_value(sql_->metadata_exists(literal(schema_))))) {
      return 0;
    }
    return std::stoi(session_->query_value(sql_->schema_version()).value_or("0"));
  } catch (const ServerError& error) {
    if (std::optional<std::string> refusal = sql_->refusal(error)) {
      throw Error(ExitCode::preflight_failed, *refusal);
    }
    throw;
  }
}

void SqlPhaseStore::ensure_schema() {
  // Concurrent runners upgrade once: the second waits here and then finds the new version.
  MetadataLock lock(*session_, *sql_, "sluice_metadata:" + schema_);
  const int version = schema_version();
  if (!layout_needs_upgrade(version, sql_->place())) {
    return;
  }
  try {
    upgrade(version);
  } catch (const ServerError& error) {
    if (std::optional<std::string> refusal = sql_->refusal(error)) {
      throw Error(ExitCode::preflight_failed, *refusal);
    }
    throw;
  }
  lock.commit();
}

void SqlPhaseStore::upgrade(int from) {
  // Each step leaves the layout of its version and can run again after a crash in its middle
  // (MySQL's DDL is not transactional), so existing metadata of any older layout keeps working.
  for (int version = from + 1; version <= kSchemaVersion; ++version) {
    const PhaseStoreSql::LayoutStep step = sql_->layout_step(version, literal(schema_));
    if (!step.done || !is_true(session_->query_value(*step.done))) {
      for (const std::string& statement : step.statements) {
        session_->execute(statement);
      }
    }
    for (const std::string& statement : sql_->write_version(version)) {
      session_->execute(statement);
    }
  }
}

std::vector<MigrationRecord> SqlPhaseStore::select(const std::optional<std::string>& filter) {
  const int version = schema_version();
  if (version == 0) {
    return {};
  }
  if (version != kSchemaVersion) {
    ensure_schema();  // an older layout is upgraded in place; a newer one is refused
  }
  std::vector<MigrationRecord> records;
  for (const ResultRow& row : session_->query(sql_->select(filter))) {
    records.push_back(record_from_row(row));
  }
  return records;
}

std::vector<MigrationRecord> SqlPhaseStore::list() {
  return select(std::nullopt);
}

std::optional<MigrationRecord> SqlPhaseStore::find(const std::string& name) {
  std::vector<MigrationRecord> records = select(sql_->named(literal(name)));
  if (records.empty()) {
    return std::nullopt;
  }
  return std::move(records.front());
}

std::int64_t SqlPhaseStore::start(const MigrationRecord& record, const std::string& owner) {
  // One runner at a time decides for a table: the check and the insert happen under this lock.
  MetadataLock lock(*session_, *sql_, "sluice_migration:" + schema_ + ":" + record.table);
  if (find(record.name)) {
    throw Error(ExitCode::usage,
                "a migration named '" + record.name + "' is already recorded; choose another name");
  }
  claim_table(*this, record, owner, select(sql_->in_progress(literal(record.table))));
  session_->execute(sql_->insert({.name_literal = literal(record.name),
                                  .table_literal = literal(record.table),
                                  .operation_literal = literal(record.operation),
                                  .spec_literal = literal(record.spec),
                                  .grace_seconds = record.grace_seconds,
                                  .owner_literal = literal(owner)}));
  const std::int64_t id = std::stoll(session_->query_value(sql_->last_insert_id()).value_or("0"));
  lock.commit();
  return id;
}

void SqlPhaseStore::set_phase(std::int64_t id, Phase phase, const std::string& error) {
  session_->execute(sql_->set_phase(
      id, phase, error.empty() ? std::nullopt : std::optional<std::string>(literal(error))));
}

bool SqlPhaseStore::take_over(std::int64_t id, const std::string& owner) {
  return session_->execute(sql_->take_over(id, literal(owner))) == 1;
}

bool SqlPhaseStore::renew_lease(std::int64_t id, const std::string& owner) {
  return session_->execute(sql_->renew_lease(id, literal(owner))) == 1;
}

void SqlPhaseStore::release_lease(std::int64_t id, const std::string& owner) {
  session_->execute(sql_->release_lease(id, literal(owner)));
}

void SqlPhaseStore::save_checkpoint(std::int64_t id, const std::string& checkpoint) {
  session_->execute(sql_->save_checkpoint(id, literal(checkpoint)));
}

std::optional<std::int64_t> SqlPhaseStore::seconds_since(std::int64_t id, Phase phase) {
  const std::optional<std::string> seconds = session_->query_value(sql_->seconds_since(id, phase));
  if (!seconds) {
    return std::nullopt;
  }
  return std::stoll(*seconds);
}

std::string SqlPhaseStore::session_id() {
  return session_->query_value(sql_->session_id()).value_or("");
}

}  // namespace sluice

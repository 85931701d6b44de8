#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/dsn.h"
#include "src/lock_retry.h"
#include "src/phase_plan.h"
#include "src/session.h"

namespace sluice {

// One key of the table, each column's value as the server prints it as text, in key order.
using KeyText = std::vector<std::string>;
// A key range (after, up_to]: nullopt bounds are open.
struct KeyRange {
  std::optional<KeyText> after;
  std::optional<KeyText> up_to;
};
// One row read for an archive (nullopt: NULL): a column archive holds the key's values, then
// the archived column's; a table archive holds every column's, in table order.
using ArchivedRow = std::vector<std::optional<std::string>>;

// What one backfill batch did.
struct BackfillBatch {
  std::uint64_t written = 0;
  // Rows still to write that the application held locked, so the batch left them alone.
  std::uint64_t skipped = 0;
};

// One column of a table archived whole, as its archive's header describes it.
struct ArchivedColumn {
  std::string name;
  std::string type;  // the SQL type as the server prints it
  bool nullable = true;
  // Computed by the server (MySQL generated columns): archived, never inserted on restore.
  bool generated = false;
};

// What a whole-table archive needs to re-create a table.
struct TableDefinition {
  std::vector<ArchivedColumn> columns;  // in table order
  std::vector<std::string> key;         // the key the archive walks, unquoted
  // What follows `CREATE TABLE <name> ` to re-create the table under any name (MySQL: the rest
  // of SHOW CREATE TABLE; PostgreSQL: columns with their types, NOT NULL and the primary key).
  std::string definition;
};

// One server family's work for column-level migrations, over one connection: reading the
// catalog, running planned steps with bounded lock waits, and walking the table by key in
// batches. Use from one thread.
class ColumnBackend {
 public:
  virtual ~ColumnBackend() = default;

  virtual const ColumnDdl& ddl() const = 0;
  // The table the user named (MySQL: in the DSN's database; PostgreSQL: in `public`). Throws
  // Error(ExitCode::not_found) when it does not exist, Error(ExitCode::usage) for a bad name.
  virtual ddl::QualifiedName resolve_table(const std::string& table) = 0;
  virtual std::optional<ColumnFacts> column(const ddl::QualifiedName& table,
                                            const std::string& column) = 0;
  // The primary key's columns (unquoted). Throws Error(ExitCode::preflight_failed) when the
  // table has none.
  virtual std::vector<std::string> key_columns(const ddl::QualifiedName& table) = 0;

  // Whether `step` is already in effect (so a re-run skips it): a step on a column by what
  // column() reports, any other by object_done().
  bool done(const ddl::QualifiedName& table, const Step& step);
  // Runs one SQL step. Lock waits are bounded by `lock_timeout`; a step that times out on its
  // lock is retried with back-off, up to `attempts` times, then fails with Error.
  virtual void run(const ddl::QualifiedName& table, const Step& step,
                   std::chrono::milliseconds lock_timeout, int attempts) = 0;
  // Throws Error(ExitCode::preflight_failed) when `expression` does not evaluate over the
  // table's rows (unknown column, syntax error), quoting the server's message.
  virtual void check_expression(const ddl::QualifiedName& table, const std::string& expression) = 0;

  // The key `rows` rows after `after` (from the start when nullopt), or nullopt when fewer rows
  // remain: the end of the next batch.
  virtual std::optional<KeyText> batch_end(const ddl::QualifiedName& table,
                                           const std::optional<KeyText>& after,
                                           std::uint64_t rows) = 0;
  // Sets the backfill's column to its expression in `range`, in the rows where `rows` holds
  // (backfill_rows()), in one short transaction that never waits for a row lock the application
  // holds: rows it would wait for are skipped and counted, for a later pass (docs/safety.md).
  // The server's lock waits are bounded by a short timeout of sluice's own; a batch that loses a
  // lock conflict anyway (timeout, or sluice chosen as a deadlock victim) is rolled back and
  // tried again with back-off, so it is sluice that yields, never the application.
  virtual BackfillBatch backfill(const ddl::QualifiedName& table, const BackfillPlan& plan,
                                 const std::string& rows, const KeyRange& range) = 0;
  // The rows in `range` for which `condition` holds; up to `samples` of their keys go to
  // `sample_keys`.
  virtual std::uint64_t count_where(const ddl::QualifiedName& table, const std::string& condition,
                                    const KeyRange& range, std::size_t samples,
                                    std::vector<KeyText>& sample_keys) = 0;

  // Sessions other than this one and `own_sessions` (sluice's other sessions) for which
  // `condition` (an SQL condition over
  // information_schema.PROCESSLIST on MySQL, pg_stat_activity on PostgreSQL) holds, each as
  // "id user@host application". Throws Error(ExitCode::usage) for a condition the server
  // refuses.
  virtual std::vector<std::string> sessions_where(const std::string& condition,
                                                  const std::vector<std::string>& own_sessions) = 0;

  // The key values and `column`'s value of the rows in `range` (for an archive).
  virtual std::vector<ArchivedRow> read_column(const ddl::QualifiedName& table,
                                               const std::string& column,
                                               const KeyRange& range) = 0;
  // Writes `column`'s value back into each row's key (from an archive); returns rows changed.
  virtual std::uint64_t write_column(const ddl::QualifiedName& table, const std::string& column,
                                     const std::vector<std::string>& key,
                                     const std::vector<ArchivedRow>& rows) = 0;

  // Whole-table archives. Values travel as read_column's do (MySQL: hex of their bytes;
  // PostgreSQL: their text form, read and written with session settings that make it portable).
  virtual bool table_exists(const ddl::QualifiedName& table) = 0;
  // Throws Error(ExitCode::preflight_failed) when the table has no key to walk.
  virtual TableDefinition table_definition(const ddl::QualifiedName& table) = 0;
  // Every column's value of the rows in `range`, in table order, sorted by key.
  virtual std::vector<ArchivedRow> read_rows(const ddl::QualifiedName& table,
                                             const KeyRange& range) = 0;
  // CREATE TABLE `table` with `definition` (a TableDefinition's).
  virtual void create_table(const ddl::QualifiedName& table, const std::string& definition) = 0;
  virtual void drop_table(const ddl::QualifiedName& table) = 0;
  // Inserts `rows` (laid out as `columns`; generated columns are left to the server) in one
  // statement, so all of them or none.
  virtual void insert_rows(const ddl::QualifiedName& table,
                           const std::vector<ArchivedColumn>& columns,
                           const std::vector<ArchivedRow>& rows) = 0;

 protected:
  // Whether a step on an index or a constraint is in effect; false for a kind the family never
  // plans.
  virtual bool object_done(const ddl::QualifiedName& table, const Step& step) = 0;
};

// A backfill batch's own lock timeout: far below the servers' deadlock detection (PostgreSQL's
// deadlock_timeout is 1 s by default) so that sluice's batch gives up first; and the batch's
// tries before the command fails.
inline constexpr std::chrono::milliseconds kBackfillLockTimeout{100};
inline constexpr int kBackfillAttempts = 10;

// How a planned step waits for its table lock: `lock_timeout` per attempt, `attempts` attempts,
// pauses doubling from 500 ms (retry_lock_waits).
LockRetryPolicy step_lock_policy(std::chrono::milliseconds lock_timeout, int attempts);
// How a backfill batch waits: `timeout` per attempt (the server's bound on its row-lock waits),
// kBackfillAttempts attempts, pauses doubling from 100 ms.
LockRetryPolicy backfill_lock_policy(std::chrono::milliseconds timeout);

// The first `columns` values of `row` as a key (NULL as empty text).
KeyText key_text(const ResultRow& row, std::size_t columns);

// Counts the rows of `from_where` (" FROM t WHERE …") and, when there are any, appends the keys
// (`key_select`, ordered by `key_order`) of the first `samples` of them to `sample_keys`; `select`
// runs one query on the family's session.
std::uint64_t count_with_samples(
    const std::function<std::vector<ResultRow>(const std::string& sql)>& select,
    const std::string& from_where, const std::string& key_select, const std::string& key_order,
    std::size_t samples, std::vector<KeyText>& sample_keys);

// `this_session` (the SQL naming the current session) and `ids`, separated by ", ": the sessions
// an old-clients query leaves out. Throws std::invalid_argument for an id that is not a number.
std::string session_list(const std::string& this_session, const std::vector<std::string>& ids);

// Runs `sql`, a family's query for other sessions (id, user, host, application) filtered by the
// user's `condition`, and prints each as "id user@host application". A condition the server
// refuses is Error(ExitCode::usage), naming `view`, the catalog view it is evaluated over.
std::vector<std::string> sessions_matching(Session& session, const std::string& sql,
                                           const std::string& condition, const std::string& view);

}  // namespace sluice

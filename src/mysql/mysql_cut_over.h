#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/rebuild_backend.h"

namespace sluice::mysql {

// Whether `session` can see who holds metadata locks (the metadata_lock_info plugin is active and
// the session has PROCESS), which the reader guard needs. `sluice check` reports the same.
bool can_see_metadata_locks(Connection& session);

// The cut-over of a MySQL rebuild, by the two-session sentry method (docs/alter.md, step 7;
// docs/architecture.md), which works on MariaDB where RENAME TABLE under LOCK TABLES is
// refused:
//   1. session A creates the sentry <table>_sluice_old and takes LOCK TABLES <table> WRITE,
//      sentry WRITE, shadow WRITE, waiting at most the cut-over's lock timeout;
//   2. the change stream is drained to the binlog position read under the lock, on session A
//      (MysqlSessions::LockedApply), which alone may read the table now and also locks the
//      shadow;
//   3. session B issues RENAME TABLE <table> TO <table>_sluice_old, <shadow> TO <table>, which
//      queues behind A on the table itself (the names sort after the table's: see
//      mysql_shadow_sql.h);
//   4. once B is seen queued, A drops the sentry and unlocks; B's RENAME runs before the
//      application's queued writes.
// Until A drops the sentry, any failure (sluice dying included) leaves the sentry in place: the
// RENAME then fails and the original table stays where it is.
//
// While A's LOCK TABLES is queued, an application transaction that read the table and then
// writes it is a metadata-lock deadlock victim (1213). When the server shows who holds the
// table's metadata locks (information_schema.METADATA_LOCK_INFO, read with PROCESS), step 1 is
// guarded: the server itself looks for such a reader and queues A's lock only when there is
// none, in one statement, and A withdraws the lock (KILL QUERY) when a reader that slipped in
// between is seen while it is queued; a reader still there at the attempt's bound counts as a
// lock wait not had, retried with back-off. Without the view the lock is queued as before (one
// log line).
class MysqlCutOver {
 public:
  MysqlCutOver(MysqlSessions& sessions, const MysqlTablePlan& plan)
      : sessions_(sessions), plan_(plan) {}

  // RebuildBackend::cut_over: tries the swap with the waits and retries of
  // cut_over_lock_policy(options) (a lock not had in time, or a RENAME that did not get its turn,
  // is tried again), then gives the old table its kept name (plan.old). Throws Error when every
  // attempt failed; the original table is untouched then.
  CutOverResult cut_over(const RebuildOptions& options, const DrainTo& drain_to);

 private:
  // One attempt: returns how long writes were blocked. Throws a lock-conflict ServerError when
  // the attempt should be retried, having dropped its sentry. Sets drained_to_ to the position
  // read under the lock.
  std::chrono::milliseconds swap(const RebuildOptions& options, const DrainTo& drain_to,
                                 bool guarded);
  // The end of the swap's RENAME event in the binlog, looked for from drained_to_ (at most a
  // few files on); nullopt when it is not found or the events cannot be read.
  std::optional<replication::Position> find_swap_end();
  // Under the lock: throws Error(ExitCode::stream) when the table's definition is no longer the
  // planned one (docs/architecture.md §3, rule 9).
  void refuse_changed_definition(Connection& lock);
  // can_see_metadata_locks on the main session; logs one line when it cannot.
  bool can_see_readers();
  // The query for the ids of the sessions that read the table and have not written it
  // (readers_before_write_sql), and its result.
  std::string readers_sql();
  std::vector<std::string> readers();
  // Step 1's LOCK TABLES on session `lock` into `held`, guarded when `guarded`. Throws a
  // lock-conflict ServerError when the attempt should be retried; `held` is empty then.
  void lock_tables(Connection& lock, std::optional<TableLock>& held, const RebuildOptions& options,
                   bool guarded);
  enum class Queued {
    held,            // the lock is had
    reader_present,  // the server saw a reader and queued nothing
    withdrawn,       // a reader slipped in while the lock was queued: it was withdrawn
  };
  // Queues step 1's LOCK TABLES on `lock` into `held` if the server sees no reader as it queues
  // it (guarded_lock_sql), and watches it while queued. `held` holds the lock only for
  // Queued::held.
  Queued queue_lock(Connection& lock, std::optional<TableLock>& held,
                    const RebuildOptions& options);
  // Whether the RENAME of session `rename_id` was seen waiting for its metadata lock before
  // kRenameQueueWait passed or it ended.
  bool wait_until_queued(unsigned long rename_id, std::future<void>& renamed);

  MysqlSessions& sessions_;
  const MysqlTablePlan& plan_;
  replication::Position drained_to_;  // of the last attempt of swap()
};

}  // namespace sluice::mysql

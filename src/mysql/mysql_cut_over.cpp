#include "src/mysql/mysql_cut_over.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "src/lock_retry.h"
#include "src/mysql/mysql_cut_over_sql.h"
#include "src/mysql/mysql_schema.h"
#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

using std::chrono::milliseconds;

// How long the cut-over waits to see its RENAME queued behind the write lock.
constexpr milliseconds kRenameQueueWait{3000};
// The RENAME's lock wait outlasts session A's by this much: it must outlast the drain and the
// hand-over.
constexpr long kRenameExtraSeconds = 10;
// How often a withdrawn lock's KILL QUERY is repeated while the LOCK TABLES has not ended: a
// KILL that reaches the server before the statement starts is lost (the server clears it when
// the statement begins), and the lock would then stay queued behind the reader.
constexpr milliseconds kKillRepeat{2};
// How long the guard waits before trying again while a reader's transaction is open.
constexpr milliseconds kReaderWait{1};

// How far find_swap_end looks for the swap's RENAME: events per query, events per file, files.
constexpr std::uint64_t kSwapSearchPage = 1000;
constexpr std::uint64_t kSwapSearchEvents = 100'000;
constexpr int kSwapSearchFiles = 3;

// The binlog file after `file` in SHOW BINARY LOGS, or "" when it is the last.
std::string next_binlog(Connection& main, const std::string& file) {
  bool found = false;
  for (const ResultRow& row : main.query("SHOW BINARY LOGS")) {
    const std::string name = row.at(0).value_or("");
    if (found) {
      return name;
    }
    found = name == file;
  }
  return "";
}

std::string joined(const std::vector<std::string>& ids) {
  std::string text;
  for (const std::string& id : ids) {
    text += (text.empty() ? "" : ", ") + id;
  }
  return text;
}

}  // namespace

bool MysqlCutOver::wait_until_queued(unsigned long rename_id, std::future<void>& renamed) {
  const auto deadline = std::chrono::steady_clock::now() + kRenameQueueWait;
  while (std::chrono::steady_clock::now() < deadline &&
         renamed.wait_for(milliseconds(0)) != std::future_status::ready) {
    if (!sessions_.main().query(rename_queued_sql(rename_id)).empty()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return false;
}

void MysqlCutOver::refuse_changed_definition(Connection& lock) {
  if (read_definition(lock, plan_.source.name) != plan_.definition) {
    throw Error(ExitCode::stream,
                "another session changed the definition of " + quote(plan_.source.name) +
                    " during the run without it reaching the binlog (DDL run with "
                    "sql_log_bin=0?), so the new table would lack it; sluice will not cut over; "
                    "the original table is untouched; run sluice alter again");
  }
}

std::optional<replication::Position> MysqlCutOver::find_swap_end() {
  // Between the position read under the lock and the RENAME only other tables' transactions
  // and the sentry's DROP are logged; a busy server may log thousands of those meanwhile.
  Connection& main = sessions_.main();
  const std::string rename = swap_rename_sql(plan_);
  try {
    std::string file = drained_to_.file;
    std::uint64_t offset = drained_to_.offset;
    std::string gtid;  // of the last Gtid event seen: the RENAME's, once it is found
    for (int files = 0; files < kSwapSearchFiles && !file.empty(); ++files) {
      for (std::uint64_t skip = 0; skip < kSwapSearchEvents; skip += kSwapSearchPage) {
        const std::vector<ResultRow> events =
            main.query(binlog_events_sql(main.quote_literal(file), offset, skip, kSwapSearchPage));
        for (const ResultRow& event : events) {
          if (std::optional<std::string> id = gtid_of_event(event)) {
            gtid = std::move(*id);
          }
          if (const std::optional<std::uint64_t> end = end_of_statement(event, rename)) {
            return replication::Position{file, *end, gtid, 0};
          }
        }
        if (events.size() < kSwapSearchPage) {
          break;
        }
      }
      file = next_binlog(main, file);
      offset = 0;
    }
    spdlog::warn(
        "the swap's RENAME was not found in the binlog after {}; the migration cannot be "
        "reverted",
        to_string(drained_to_));
  } catch (const ServerError& error) {
    spdlog::warn(
        "could not read the binlog's events after the swap ({}); the migration cannot be "
        "reverted",
        error.what());
  }
  return std::nullopt;
}

bool can_see_metadata_locks(Connection& session) {
  if (session.query(metadata_lock_view_sql()).empty()) {
    return false;
  }
  try {
    session.query(process_privilege_probe_sql());
  } catch (const ServerError&) {
    return false;
  }
  return true;
}

bool MysqlCutOver::can_see_readers() {
  const bool visible = can_see_metadata_locks(sessions_.main());
  if (!visible) {
    spdlog::warn(
        "cut-over: cannot see who holds metadata locks on {} (needs the metadata_lock_info "
        "plugin, INSTALL SONAME 'metadata_lock_info', and the PROCESS privilege); an "
        "application transaction that read it and writes it while the cut-over's lock is "
        "queued may be rolled back as a deadlock victim (1213)",
        quote(plan_.source.name));
  }
  return visible;
}

std::string MysqlCutOver::readers_sql() {
  Connection& main = sessions_.main();
  return readers_before_write_sql(main.quote_literal(plan_.source.name.schema),
                                  main.quote_literal(plan_.source.name.name));
}

std::vector<std::string> MysqlCutOver::readers() {
  std::vector<std::string> ids;
  for (const ResultRow& row : sessions_.main().query(readers_sql())) {
    ids.push_back(row.at(0).value_or(""));
  }
  return ids;
}

MysqlCutOver::Queued MysqlCutOver::queue_lock(Connection& lock, std::optional<TableLock>& held,
                                              const RebuildOptions& options) {
  const std::vector<std::string> statements = {
      lock_wait_timeout_sql(lock_wait_seconds(options.cutover_lock_timeout)),
      guarded_lock_sql(lock.quote_literal(lock_tables_statement(cut_over_locks(plan_))),
                       readers_sql())};
  std::future<void> locked =
      std::async(std::launch::async, [&] { held.emplace(lock, statements); });
  // A reader that took its lock between the server's look and the lock's queueing makes the
  // lock wait for it, and would be the deadlock victim of its own write: withdraw. Its write
  // comes after its reads, a few statements later, so the looks follow each other without a
  // pause while the lock is queued.
  bool slipped_in = false;
  while (!slipped_in && locked.wait_for(milliseconds(0)) != std::future_status::ready) {
    slipped_in = !readers().empty();
  }
  // A KILL QUERY that reaches the server before the statement starts is lost (the server clears
  // it as the statement begins): repeat it until the statement has ended.
  while (slipped_in && locked.wait_for(kKillRepeat) != std::future_status::ready) {
    sessions_.main().execute(kill_query_sql(lock.id()));
  }
  try {
    locked.get();
  } catch (const ServerError& error) {
    if (has_code(error, kReaderPresentCode)) {
      return Queued::reader_present;
    }
    if (!slipped_in) {
      throw;
    }
  }
  if (!slipped_in) {
    return Queued::held;
  }
  // The KILL may have come after the lock was granted (the reader then had gone): unlock.
  held.reset();
  return Queued::withdrawn;
}

void MysqlCutOver::lock_tables(Connection& lock, std::optional<TableLock>& held,
                               const RebuildOptions& options, bool guarded) {
  if (!guarded) {
    held.emplace(lock, cut_over_locks(plan_), options.cutover_lock_timeout);
    return;
  }
  // Within the attempt's bound, try again and again: a reader's transaction is short, and a
  // withdrawn lock cost the application a few milliseconds.
  const auto deadline = std::chrono::steady_clock::now() + options.cutover_lock_timeout;
  int withdrawn = 0;
  for (;;) {
    const Queued queued = queue_lock(lock, held, options);
    if (queued == Queued::held) {
      return;
    }
    withdrawn += queued == Queued::withdrawn ? 1 : 0;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw ServerError(ServerErrorKind::lock_timeout, "",
                        "sessions " + joined(readers()) + " read " + quote(plan_.source.name) +
                            " in transactions still open (the lock was queued and withdrawn " +
                            std::to_string(withdrawn) +
                            " times so that their writes do not deadlock)");
    }
    // Yield while a reader's transaction is open: it holds its metadata lock until it ends.
    if (queued == Queued::reader_present) {
      std::this_thread::sleep_for(kReaderWait);
    }
  }
}

milliseconds MysqlCutOver::swap(const RebuildOptions& options, const DrainTo& drain_to,
                                bool guarded) {
  std::unique_ptr<Connection> lock = sessions_.open();
  std::unique_ptr<Connection> rename = sessions_.open();
  const long seconds = lock_wait_seconds(options.cutover_lock_timeout);
  // Set before the sentry's CREATE, so that it too waits no longer than the lock would.
  lock->execute(lock_wait_timeout_sql(seconds));
  rename->execute(lock_wait_timeout_sql(seconds + kRenameExtraSeconds));
  lock->execute(create_sentry_sql(plan_.swap));
  std::optional<TableLock> held;
  try {
    lock_tables(*lock, held, options, guarded);
  } catch (const ServerError& error) {
    lock->execute(drop_table_sql(plan_.swap, true));
    if (error.kind() == ServerErrorKind::lock_timeout) {
      spdlog::warn("cut-over could not lock {} within {} ms: {}", quote(plan_.source.name),
                   options.cutover_lock_timeout.count(), error.what());
    }
    throw;
  }
  const auto blocked = std::chrono::steady_clock::now();
  // From here until the sentry is dropped, a failure (even sluice dying) leaves the sentry in
  // place, so the queued RENAME fails and the original table stays where it is.
  bool sentry_dropped = false;
  std::future<void> renamed;
  try {
    refuse_changed_definition(*lock);
    const replication::Position target = sessions_.log_position();
    drained_to_ = target;
    {
      const MysqlSessions::LockedApply locked(sessions_, *lock);
      drain_to(target);
    }
    spdlog::debug("cut-over: writes blocked, change stream drained to {}", to_string(target));
    const unsigned long rename_id = rename->id();
    renamed = std::async(std::launch::async, [&] { rename->execute(swap_rename_sql(plan_)); });
    if (wait_until_queued(rename_id, renamed)) {
      lock->execute(drop_table_sql(plan_.swap));
      sentry_dropped = true;
    }
  } catch (...) {
    // Unlock first: the RENAME waits behind the lock, and fails on the sentry once it runs.
    held.reset();
    if (renamed.valid()) {
      renamed.wait();
    }
    lock->execute(drop_table_sql(plan_.swap, true));
    throw;
  }
  held->release();
  try {
    renamed.get();
  } catch (const ServerError& error) {
    if (!sentry_dropped) {
      lock->execute(drop_table_sql(plan_.swap, true));
    }
    spdlog::warn("cut-over rename did not happen ({}); the original table is untouched",
                 error.what());
    // The RENAME lost its turn behind the write lock: a lock race, tried again as one.
    throw ServerError(ServerErrorKind::lock_timeout, error.code(),
                      std::string("the cut-over's RENAME did not happen: ") + error.what());
  }
  if (!sentry_dropped) {
    throw ServerError(ServerErrorKind::lock_timeout, "",
                      "the cut-over's RENAME was not seen queued behind the write lock");
  }
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - blocked);
}

CutOverResult MysqlCutOver::cut_over(const RebuildOptions& options, const DrainTo& drain_to) {
  CutOverResult result;
  const bool guarded = can_see_readers();
  result.write_block = retry_lock_waits("cut-over", cut_over_lock_policy(options), [&] {
    ++result.attempts;
    return swap(options, drain_to, guarded);
  });
  if (!options.drop_old_table) {
    // With the old table dropped there is nothing to revert to: no need to look.
    result.revert_from = find_swap_end();
  }
  try {
    sessions_.main().execute(rename_table_sql(plan_.swap, plan_.old));
  } catch (const ServerError& error) {
    // The swap is done and the application runs on the new table; only the old table's name is
    // off. Say so rather than report the migration as failed.
    spdlog::warn("the old table is kept as {} (renaming it to {} failed: {})", quote(plan_.swap),
                 quote(plan_.old), error.what());
  }
  spdlog::info(
      "cut-over done: {} now has the new schema, the old table is {}; writes were "
      "blocked for {} ms",
      quote(plan_.source.name), quote(plan_.old), result.write_block.count());
  return result;
}

}  // namespace sluice::mysql

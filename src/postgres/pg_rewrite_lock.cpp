#include "src/postgres/pg_rewrite_lock.h"

#include <spdlog/spdlog.h>

#include "src/postgres/pg_copy_sql.h"

namespace sluice::postgres {

PgRewriteLock::PgRewriteLock(Dsn dsn, std::optional<std::string> password, std::string table,
                             std::string oid)
    : dsn_(std::move(dsn)),
      password_(std::move(password)),
      table_(std::move(table)),
      oid_(std::move(oid)),
      watcher_([this] { watch(); }) {}

PgRewriteLock::~PgRewriteLock() {
  {
    const std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  watcher_.join();
}

bool PgRewriteLock::stop_within(std::chrono::milliseconds period) {
  std::unique_lock<std::mutex> guard(mutex_);
  return stop_requested_.wait_for(guard, period, [this] { return stopping_; });
}

void PgRewriteLock::try_take() {
  try {
    lock_.emplace(*session_, std::vector<std::string>{"BEGIN", take_rewrite_lock(table_)});
  } catch (const ServerError& error) {
    if (error.kind() != ServerErrorKind::lock_timeout) {
      throw;
    }
    return;
  }
  // Said once; taken again after letting a session through is routine.
  spdlog::log(announced_ ? spdlog::level::debug : spdlog::level::info,
              "holding SHARE UPDATE EXCLUSIVE on {} until the cut-over: autovacuum and rewrites "
              "keep off it, and sluice lets go of it for any session that waits for it",
              table_);
  announced_ = true;
}

bool PgRewriteLock::yield_to_waiter() {
  const std::vector<ResultRow> waiter = session_->query(lock_waiter(), {oid_});
  if (waiter.empty()) {
    return false;
  }
  lock_.reset();
  // sluice's own verification and cut-over wait for it as any session does.
  const bool own = waiter[0][2].value_or("") == "sluice";
  spdlog::log(own ? spdlog::level::debug : spdlog::level::info,
              "session {} waits for {} on {}: sluice let go of its lock; the run goes on (a "
              "rewrite of the table during the copy stops it)",
              waiter[0][0].value_or("?"), waiter[0][1].value_or("a lock"), table_);
  return true;
}

void PgRewriteLock::watch() {
  try {
    if (stop_within(std::chrono::milliseconds(0))) {
      return;
    }
    session_ = std::make_unique<Connection>(dsn_, password_);
    // Idle in its transaction for the whole copy, like the snapshot's holder.
    session_->execute(keep_idle_transaction());
    auto retake_at = std::chrono::steady_clock::now();
    do {
      if (lock_) {
        if (yield_to_waiter()) {
          retake_at = std::chrono::steady_clock::now() + kRetake;
        }
      } else if (std::chrono::steady_clock::now() >= retake_at) {
        try_take();
        retake_at = std::chrono::steady_clock::now() + kRetake;
      }
    } while (!stop_within(kPoll));
  } catch (const std::exception& error) {
    spdlog::warn("the run goes on without its lock on {} ({})", table_, error.what());
  }
  lock_.reset();
  session_.reset();
}

}  // namespace sluice::postgres

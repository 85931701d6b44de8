#pragma once

#include <memory>
#include <optional>
#include <string>

#include "replication/change_event.h"
#include "src/dsn.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_connection.h"
#include "src/reconnect.h"

namespace sluice::mysql {

// The sessions of one MySQL rebuild, shared by its roles: the main session (planning, shadow
// DDL and the copy), the applier's, and new ones opened on demand (verification's snapshots,
// the cut-over's two). Roles reach main() and apply() anew for each unit of work, never keep
// them: reconnect() replaces both.
class MysqlSessions {
 public:
  // Connects the main session; throws Error(ExitCode::connection) when the server is out of
  // reach.
  MysqlSessions(const Dsn& dsn, const std::optional<std::string>& password);

  // A new session with sluice's settings: UTC, strict SQL mode, NO_AUTO_VALUE_ON_ZERO, and row
  // lock waits of at most kRowLockWaitSeconds.
  std::unique_ptr<Connection> open();

  Connection& main() { return *main_; }
  // The applier's session; open_apply() must have been called.
  Connection& apply() { return *apply_; }
  void open_apply();

  // Opens the main session (and the applier's, if it was open) again.
  void reconnect();

  // Makes the applier write on `session`, which holds LOCK TABLES … WRITE on the table and the
  // shadow (the cut-over's session A), while the guard lives.
  class LockedApply {
   public:
    LockedApply(MysqlSessions& sessions, Connection& session) : sessions_(sessions) {
      sessions_.locked_apply_ = &session;
    }
    ~LockedApply() { sessions_.locked_apply_ = nullptr; }
    LockedApply(const LockedApply&) = delete;
    LockedApply& operator=(const LockedApply&) = delete;

   private:
    MysqlSessions& sessions_;
  };
  // The session a LockedApply lent, or null.
  Connection* locked_apply() { return locked_apply_; }

  // How reconnecting() gets a lost session back; set once the run's options are known.
  void set_reconnect_policy(const ReconnectPolicy& policy) { reconnect_policy_ = policy; }

  // Runs `unit` again on new sessions when its connection is lost (retry_on_connection_loss).
  // `unit` must be safe to redo and must reach main() or apply() anew on each call.
  template <typename Unit>
  auto reconnecting(const char* what, Unit unit) {
    return retry_on_connection_loss(
        what, reconnect_policy_, [this] { reconnect(); }, unit);
  }

  // visible_log_position() on the main session, reconnecting when the session is lost.
  replication::Position log_position();

  const Dsn& dsn() const { return dsn_; }
  const std::optional<std::string>& password() const { return password_; }

  // innodb_lock_wait_timeout of every session: how long one statement waits for a row lock.
  static constexpr int kRowLockWaitSeconds = 5;

 private:
  // A session of open() that reads the source without locking it: the main session (the copy)
  // and the applier's.
  std::unique_ptr<Connection> open_reader();

  Dsn dsn_;
  std::optional<std::string> password_;
  ReconnectPolicy reconnect_policy_;
  std::unique_ptr<Connection> main_;
  std::unique_ptr<Connection> apply_;
  Connection* locked_apply_ = nullptr;
};

// The end of the last transaction the server has both logged and made visible: MariaDB's
// Binlog_snapshot_file/_position read inside START TRANSACTION WITH CONSISTENT SNAPSHOT, which
// the server takes in one step with the snapshot. Every transaction logged up to it is visible
// to every read that starts afterwards; one logged later may not be yet. Throws
// Error(ExitCode::preflight_failed) when the server does not report it (binary log off, or not
// MariaDB).
replication::Position visible_log_position(Session& session);

// The statements of visible_log_position: the transaction's begin, and the query whose rows
// name the position.
std::vector<std::string> visible_log_position_sql();

// The position in the rows of SHOW STATUS LIKE 'Binlog_snapshot_%' (name, value); nullopt when
// either variable is missing or empty.
std::optional<replication::Position> position_from_status(const std::vector<ResultRow>& rows);

// How the copy and the applier wait for a row lock the application holds: each statement waits
// kRowLockWaitSeconds, then the unit (a chunk, a batch in its transaction) is tried again after
// a growing pause from 200 ms, 5 times in all. The application holding a lock must win, and
// sluice must not give up on the first wait.
LockRetryPolicy row_lock_policy();

}  // namespace sluice::mysql

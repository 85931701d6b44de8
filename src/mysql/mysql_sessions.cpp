#include "src/mysql/mysql_sessions.h"

#include <spdlog/spdlog.h>

#include "src/error.h"

namespace sluice::mysql {

MysqlSessions::MysqlSessions(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), password_(password), main_(open_main()) {}

std::unique_ptr<Connection> MysqlSessions::open() {
  auto connection = std::make_unique<Connection>(dsn_, password_);
  // UTC so TIMESTAMP values read and written here match the binlog's; strict so a value that
  // does not fit its new column is an error, never a silent truncation; NO_AUTO_VALUE_ON_ZERO
  // so a row with id 0 is copied as 0, not given a fresh AUTO_INCREMENT value.
  connection->execute(
      "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO', "
      "innodb_lock_wait_timeout = " +
      std::to_string(kRowLockWaitSeconds));
  return connection;
}

std::unique_ptr<Connection> MysqlSessions::open_main() {
  std::unique_ptr<Connection> connection = open();
  // The copy reads the source without locking it (a consistent read of the latest committed
  // rows), so it never makes the application wait for or deadlock with a chunk. Rows that change
  // meanwhile reach the shadow through the change stream, which the applier holds back until
  // the chunk covering them has committed.
  connection->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  return connection;
}

void MysqlSessions::open_apply() {
  apply_ = open();
}

void MysqlSessions::reconnect() {
  main_ = open_main();
  if (apply_) {
    apply_ = open();
  }
  spdlog::info("reconnected to {}", dsn_.display());
}

replication::Position MysqlSessions::log_position() {
  std::vector<ResultRow> rows = reconnecting("reading the binlog position",
                                             [&] { return main().query("SHOW MASTER STATUS"); });
  if (rows.empty() || rows.front().size() < 2 || !rows.front()[0] || !rows.front()[1]) {
    throw Error(ExitCode::preflight_failed,
                "SHOW MASTER STATUS returned nothing: the binary log is off");
  }
  replication::Position position;
  position.file = *rows.front()[0];
  position.offset = std::stoull(*rows.front()[1]);
  return position;
}

LockRetryPolicy row_lock_policy() {
  LockRetryPolicy policy;
  policy.timeout = std::chrono::seconds(MysqlSessions::kRowLockWaitSeconds);
  policy.attempts = 5;
  policy.first_pause = std::chrono::milliseconds(200);
  return policy;
}

}  // namespace sluice::mysql

#include "src/mysql/mysql_sessions.h"

#include <spdlog/spdlog.h>

#include "src/error.h"

namespace sluice::mysql {

MysqlSessions::MysqlSessions(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), password_(password), main_(open_reader()) {}

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

std::unique_ptr<Connection> MysqlSessions::open_reader() {
  std::unique_ptr<Connection> connection = open();
  // A consistent read of the latest committed rows, without locks: neither the copy nor the
  // applier ever makes the application wait for a row or deadlock with it (INSERT … SELECT
  // under READ COMMITTED does not lock the rows it reads). Changes committed meanwhile reach
  // the shadow through the applier, which re-reads them (docs/architecture.md §3).
  connection->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  return connection;
}

void MysqlSessions::open_apply() {
  apply_ = open_reader();
}

void MysqlSessions::reconnect() {
  main_ = open_reader();
  if (apply_) {
    apply_ = open_reader();
  }
  spdlog::info("reconnected to {}", dsn_.display());
}

replication::Position MysqlSessions::log_position() {
  return reconnecting("reading the binlog position", [&] { return visible_log_position(main()); });
}

std::vector<std::string> visible_log_position_sql() {
  return {"START TRANSACTION WITH CONSISTENT SNAPSHOT", "SHOW STATUS LIKE 'Binlog_snapshot_%'"};
}

std::optional<replication::Position> position_from_status(const std::vector<ResultRow>& rows) {
  std::optional<std::string> file;
  std::optional<std::string> offset;
  for (const ResultRow& row : rows) {
    if (row.size() < 2 || !row[0] || !row[1] || row[1]->empty()) {
      continue;
    }
    if (*row[0] == "Binlog_snapshot_file") {
      file = row[1];
    } else if (*row[0] == "Binlog_snapshot_position") {
      offset = row[1];
    }
  }
  if (!file || !offset) {
    return std::nullopt;
  }
  replication::Position position;
  position.file = *file;
  position.offset = std::stoull(*offset);
  return position;
}

replication::Position visible_log_position(Session& session) {
  const std::vector<std::string> statements = visible_log_position_sql();
  std::vector<ResultRow> rows;
  {
    Transaction snapshot(session, statements[0]);
    rows = session.query(statements[1]);
    snapshot.commit();
  }
  std::optional<replication::Position> position = position_from_status(rows);
  if (!position) {
    throw Error(ExitCode::preflight_failed,
                "the server reports no Binlog_snapshot_file/Binlog_snapshot_position: the "
                "binary log is off, or the server is not MariaDB; sluice needs them to know "
                "when a logged change is visible");
  }
  return *position;
}

LockRetryPolicy row_lock_policy() {
  LockRetryPolicy policy;
  policy.timeout = std::chrono::seconds(MysqlSessions::kRowLockWaitSeconds);
  policy.attempts = 5;
  policy.first_pause = std::chrono::milliseconds(200);
  return policy;
}

}  // namespace sluice::mysql

#pragma once

#include <mysql.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/dsn.h"
#include "src/error.h"
#include "src/session.h"

namespace sluice::mysql {

// Whether `error` is the server's error number `code` (mysqld_error.h), for the few callers that
// act on one particular refusal.
bool has_code(const ServerError& error, unsigned code);

// What the server's error number `code` (mysqld_error.h) means to the engine's policies and to
// the user (ServerErrorKind); the one place MySQL codes are classified.
ServerErrorKind error_kind(unsigned code);

// One client session to a MySQL/MariaDB server, closed on destruction. Talks utf8mb4.
class Connection : public Session {
 public:
  // Connects or throws Error: ExitCode::connection for refused/unreachable servers, wrong
  // credentials and unknown databases, each with one sentence naming the fix.
  Connection(const Dsn& dsn, const std::optional<std::string>& password);
  ~Connection();

  ddl::Dialect dialect() const override { return ddl::Dialect::mysql; }

  // Runs a statement that returns no rows and returns the number of affected rows. Throws
  // ServerError with the server's message on failure.
  std::uint64_t execute(std::string_view sql) override;

  // Warnings left by the last statement.
  unsigned warning_count() { return mysql_warning_count(mysql_); }

  // The server's summary of the last statement ("Records: 3  Duplicates: 1  Warnings: 0" for an
  // INSERT … SELECT), or empty.
  std::string info() {
    const char* text = mysql_info(mysql_);
    return text ? text : "";
  }

  // The server's id for this session (CONNECTION_ID()).
  unsigned long id() { return mysql_thread_id(mysql_); }

  // Runs a query and returns every row; NULL columns are nullopt.
  std::vector<ResultRow> query(std::string_view sql) override;

  // `text` as a quoted SQL string literal in the connection's character set.
  std::string quote_literal(std::string_view text) override;

  std::vector<std::string> lock_statements(const std::vector<TableLockRequest>& tables,
                                           std::chrono::milliseconds timeout) const override;
  std::string unlock_statement(bool commit) const override;

  MYSQL* handle() { return mysql_; }

 private:
  [[noreturn]] void fail(std::string_view sql);

  MYSQL* mysql_ = nullptr;
};

}  // namespace sluice::mysql

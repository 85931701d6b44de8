#pragma once

#include <mysql.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/dsn.h"
#include "src/error.h"

namespace sluice::mysql {

// A statement the server refused; `server_code()` is its error number (e.g. 1205 lock wait
// timeout) so callers can retry what is worth retrying.
class ServerError : public Error {
 public:
  ServerError(unsigned server_code, const std::string& message)
      : Error(ExitCode::failure, message), server_code_(server_code) {}
  unsigned server_code() const { return server_code_; }

 private:
  unsigned server_code_;
};

using ResultRow = std::vector<std::optional<std::string>>;

// One client session to a MySQL/MariaDB server, closed on destruction. Talks utf8mb4.
class Connection {
 public:
  // Connects or throws Error: ExitCode::connection for refused/unreachable servers, wrong
  // credentials and unknown databases, each with one sentence naming the fix.
  Connection(const Dsn& dsn, const std::optional<std::string>& password);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a statement that returns no rows and returns the number of affected rows. Throws
  // ServerError with the server's message on failure.
  std::uint64_t execute(std::string_view sql);

  // Warnings left by the last statement.
  unsigned warning_count() { return mysql_warning_count(mysql_); }

  // The server's id for this session (CONNECTION_ID()).
  unsigned long id() { return mysql_thread_id(mysql_); }

  // Runs a query and returns every row; NULL columns are nullopt.
  std::vector<ResultRow> query(std::string_view sql);

  // The first column of the first row, or nullopt for no row or NULL.
  std::optional<std::string> query_value(std::string_view sql);

  // `text` as a quoted SQL string literal in the connection's character set.
  std::string quote_literal(std::string_view text);

  MYSQL* handle() { return mysql_; }

 private:
  [[noreturn]] void fail(std::string_view sql);

  MYSQL* mysql_ = nullptr;
};

}  // namespace sluice::mysql

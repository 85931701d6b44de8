#pragma once

#include <mysql.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/dsn.h"

namespace sluice::mysql {

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

  // Runs a statement that returns no rows. Throws Error(ExitCode::failure) with the server's
  // message on failure.
  void execute(std::string_view sql);

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

#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddl/identifier.h"
#include "src/dsn.h"
#include "src/error.h"

namespace sluice::postgres {

using ResultRow = std::vector<std::optional<std::string>>;
// Text parameters of a statement; nullopt binds SQL NULL.
using Params = std::vector<std::optional<std::string>>;

// A statement the server refused. `sqlstate()` lets callers tell a lock timeout (55P03) or a
// unique violation (23505) from other failures.
class ServerError : public Error {
 public:
  ServerError(std::string sqlstate, const std::string& message)
      : Error(ExitCode::failure, message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// One client session to a PostgreSQL server, closed on destruction. Identifies itself as
// application_name 'sluice'.
class Connection {
 public:
  // Connects or throws Error(ExitCode::connection) with one sentence naming the fix (refused,
  // wrong password, unknown database or role).
  Connection(const Dsn& dsn, const std::optional<std::string>& password);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` with text parameters $1, $2, ... and returns every row; NULLs are nullopt.
  // Throws ServerError (ExitCode::failure) with the server's message on failure.
  std::vector<ResultRow> query(std::string_view sql, const std::vector<std::string>& params = {});

  // Runs `sql` with parameters that may be NULL; returns the rows and, through `affected`, the
  // number of rows the statement inserted, updated or deleted.
  std::vector<ResultRow> query_params(std::string_view sql, const Params& params,
                                      std::uint64_t* affected = nullptr);

  // The first column of the first row, or nullopt for no row or NULL.
  std::optional<std::string> query_value(std::string_view sql,
                                         const std::vector<std::string>& params = {});

  // Runs one or more ';'-separated statements without parameters (simple query protocol).
  void execute(std::string_view sql);

  PGconn* handle() { return conn_; }

 private:
  PGconn* conn_ = nullptr;
};

// Whether a relation of this name exists: a table, view, sequence or index, which share one
// namespace, so that any of them keeps CREATE TABLE (or a rename) from taking the name.
bool relation_exists(Connection& connection, const ddl::QualifiedName& name);

}  // namespace sluice::postgres

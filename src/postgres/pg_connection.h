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
#include "src/session.h"

namespace sluice::postgres {

// Text parameters of a statement; nullopt binds SQL NULL.
using Params = std::vector<std::optional<std::string>>;

// What SQLSTATE `sqlstate` means to the engine's policies and to the user (ServerErrorKind), by
// class (22 data exception, 23 integrity violation, 42 syntax or access); the one place
// PostgreSQL's codes are classified.
ServerErrorKind error_kind(const std::string& sqlstate);

// One client session to a PostgreSQL server, closed on destruction. Identifies itself as
// application_name 'sluice'.
class Connection : public Session {
 public:
  // Connects or throws Error(ExitCode::connection) with one sentence naming the fix (refused,
  // wrong password, unknown database or role).
  Connection(const Dsn& dsn, const std::optional<std::string>& password);
  ~Connection();

  ddl::Dialect dialect() const override { return ddl::Dialect::postgres; }

  // Runs `sql` and returns every row; NULLs are nullopt. Throws ServerError (ExitCode::failure)
  // with the server's message on failure.
  std::vector<ResultRow> query(std::string_view sql) override;
  // The same with text parameters $1, $2, ...
  std::vector<ResultRow> query(std::string_view sql, const std::vector<std::string>& params);

  // Runs `sql` with parameters that may be NULL; returns the rows and, through `affected`, the
  // number of rows the statement inserted, updated or deleted.
  std::vector<ResultRow> query_params(std::string_view sql, const Params& params,
                                      std::uint64_t* affected = nullptr);

  using Session::query_value;
  // The first column of the first row (with parameters), or nullopt for no row or NULL.
  std::optional<std::string> query_value(std::string_view sql,
                                         const std::vector<std::string>& params);

  // Runs one or more ';'-separated statements without parameters (simple query protocol);
  // returns the rows the last one changed.
  std::uint64_t execute(std::string_view sql) override;

  // `text` as a string literal (see quote_literal in pg_rebuild_sql.h).
  std::string quote_literal(std::string_view text) override;

  std::vector<std::string> lock_statements(const std::vector<TableLockRequest>& tables,
                                           std::chrono::milliseconds timeout) const override;
  std::string unlock_statement(bool commit) const override;

  PGconn* handle() { return conn_; }

 private:
  PGconn* conn_ = nullptr;
};

// Whether a relation of this name exists: a table, view, sequence or index, which share one
// namespace, so that any of them keeps CREATE TABLE (or a rename) from taking the name.
bool relation_exists(Connection& connection, const ddl::QualifiedName& name);

}  // namespace sluice::postgres

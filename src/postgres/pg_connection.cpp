#include "src/postgres/pg_connection.h"

#include <memory>

#include "src/error.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/reconnect.h"

namespace sluice::postgres {
namespace {

std::string first_line(std::string text) {
  std::size_t newline = text.find('\n');
  if (newline != std::string::npos) {
    text.resize(newline);
  }
  return text;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

[[noreturn]] void connect_failed(PGconn* conn, const Dsn& dsn, bool had_password) {
  const std::string where = dsn.host + ":" + std::to_string(dsn.port);
  const std::string message = first_line(PQerrorMessage(conn));
  if (PQconnectionNeedsPassword(conn) && !had_password) {
    throw Error(ExitCode::connection,
                "PostgreSQL at " + where + " asks user '" + dsn.user +
                    "' for a password and none was given; set PGPASSWORD, add it to ~/.pgpass, "
                    "or use --password-file or --ask-password");
  }
  if (contains(message, "password authentication failed") ||
      contains(message, "authentication failed")) {
    throw Error(ExitCode::connection, "PostgreSQL at " + where + " refused the login of user '" +
                                          dsn.user +
                                          "' (wrong password); check PGPASSWORD, ~/.pgpass or "
                                          "--password-file");
  }
  if (contains(message, "database \"") && contains(message, "does not exist")) {
    throw Error(ExitCode::connection, "database '" + dsn.database + "' does not exist on " + where +
                                          "; fix the database part of the DSN");
  }
  if (contains(message, "role \"") && contains(message, "does not exist")) {
    throw Error(ExitCode::connection, "role '" + dsn.user + "' does not exist on " + where +
                                          "; fix the user part of the DSN");
  }
  if (contains(message, "invalid response to SSL negotiation") ||
      contains(message, "expected authentication request from server")) {
    throw Error(ExitCode::connection, "the server at " + where +
                                          " does not speak the PostgreSQL protocol (a MySQL or "
                                          "MariaDB server?); check the port, or use a mysql:// "
                                          "DSN for it");
  }
  throw Error(ExitCode::connection, "cannot connect to PostgreSQL at " + where + ": " + message +
                                        "; check that the server runs and the DSN is right");
}

// Throws ServerError unless `result` reports success, ConnectionLost when the session is gone
// (terminated by pg_terminate_backend, a server shutting down or restarting, a dropped network).
void check(PGconn* conn, PGresult* result, const std::string& statement) {
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    return;
  }
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = sqlstate ? sqlstate : "";
  if (PQstatus(conn) == CONNECTION_BAD || state.rfind("08", 0) == 0 || state == "57P01" ||
      state == "57P02" || state == "57P03") {
    throw ConnectionLost("PostgreSQL session lost (" +
                         first_line(result ? PQresultErrorMessage(result) : PQerrorMessage(conn)) +
                         ")");
  }
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  throw ServerError(
      error_kind(state), state,
      "PostgreSQL error (" + first_line(PQresultErrorMessage(result)) + ") running: " + statement,
      primary ? primary : "");
}

}  // namespace

ServerErrorKind error_kind(const std::string& sqlstate) {
  if (sqlstate == "55P03") {
    return ServerErrorKind::lock_timeout;
  }
  if (sqlstate == "40P01") {
    return ServerErrorKind::deadlock;
  }
  if (sqlstate == "23505") {
    return ServerErrorKind::unique_violation;
  }
  const std::string_view error_class = std::string_view(sqlstate).substr(0, 2);
  if (error_class == "22") {
    return ServerErrorKind::bad_value;
  }
  if (error_class == "23") {
    return ServerErrorKind::constraint_violation;
  }
  // Undefined column, table, object, function and schema: 42703, 42P01, 42704, 42883, 3F000.
  if (sqlstate == "42703" || sqlstate == "42P01" || sqlstate == "42704" || sqlstate == "42883" ||
      sqlstate == "3F000") {
    return ServerErrorKind::undefined_object;
  }
  if (sqlstate == "42501") {
    return ServerErrorKind::access_denied;
  }
  if (error_class == "42") {
    return ServerErrorKind::invalid_statement;
  }
  return ServerErrorKind::other;
}

Connection::Connection(const Dsn& dsn, const std::optional<std::string>& password) {
  std::vector<const char*> keywords = {"dbname", "application_name", "connect_timeout"};
  std::vector<const char*> values = {dsn.pg_conninfo.c_str(), "sluice", "10"};
  if (password) {
    keywords.push_back("password");
    values.push_back(password->c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> closer(conn_, &PQfinish);
    conn_ = nullptr;
    connect_failed(closer.get(), dsn, password.has_value());
  }
}

Connection::~Connection() {
  if (conn_) {
    PQfinish(conn_);
  }
}

std::vector<ResultRow> Connection::query(std::string_view sql) {
  return query_params(sql, {});
}

std::vector<ResultRow> Connection::query(std::string_view sql,
                                         const std::vector<std::string>& params) {
  return query_params(sql, Params(params.begin(), params.end()));
}

std::vector<ResultRow> Connection::query_params(std::string_view sql, const Params& params,
                                                std::uint64_t* affected) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::optional<std::string>& param : params) {
    values.push_back(param ? param->c_str() : nullptr);
  }
  std::string statement(sql);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexecParams(conn_, statement.c_str(), static_cast<int>(values.size()), nullptr,
                   values.data(), nullptr, nullptr, 0),
      &PQclear);
  check(conn_, result.get(), statement);
  if (affected) {
    const char* tuples = PQcmdTuples(result.get());
    *affected = tuples && *tuples ? std::stoull(tuples) : 0;
  }
  std::vector<ResultRow> rows;
  const int row_count = PQntuples(result.get());
  const int column_count = PQnfields(result.get());
  rows.reserve(static_cast<std::size_t>(row_count));
  for (int r = 0; r < row_count; ++r) {
    ResultRow row;
    row.reserve(static_cast<std::size_t>(column_count));
    for (int c = 0; c < column_count; ++c) {
      if (PQgetisnull(result.get(), r, c)) {
        row.push_back(std::nullopt);
      } else {
        row.push_back(std::string(PQgetvalue(result.get(), r, c),
                                  static_cast<std::size_t>(PQgetlength(result.get(), r, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::uint64_t Connection::execute(std::string_view sql) {
  std::string statement(sql);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn_, statement.c_str()), &PQclear);
  check(conn_, result.get(), statement);
  const char* tuples = PQcmdTuples(result.get());
  return tuples && *tuples ? std::stoull(tuples) : 0;
}

std::string Connection::quote_literal(std::string_view text) {
  return postgres::quote_literal(std::string(text));
}

std::vector<std::string> Connection::lock_statements(const std::vector<TableLockRequest>& tables,
                                                     std::chrono::milliseconds timeout) const {
  return lock_tables_sql(tables, timeout);
}

std::string Connection::unlock_statement(bool commit) const {
  return commit ? "COMMIT" : "ROLLBACK";
}

std::optional<std::string> Connection::query_value(std::string_view sql,
                                                   const std::vector<std::string>& params) {
  std::vector<ResultRow> rows = query(sql, params);
  if (rows.empty() || rows.front().empty()) {
    return std::nullopt;
  }
  return rows.front().front();
}

bool relation_exists(Connection& connection, const ddl::QualifiedName& name) {
  return connection
      .query_value(
          "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = $1 AND c.relname = $2",
          {name.schema, name.name})
      .has_value();
}

}  // namespace sluice::postgres

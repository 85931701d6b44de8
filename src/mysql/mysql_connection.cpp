#include "src/mysql/mysql_connection.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <memory>

#include "src/error.h"
#include "src/mysql/mysql_sql.h"
#include "src/protocol_probe.h"
#include "src/reconnect.h"

namespace sluice::mysql {
namespace {

// Errors that mean the session is gone (killed, server shut down or restarting, network), as
// opposed to a statement the server refused.
bool session_lost(unsigned code) {
  switch (code) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
      return true;
    default:
      return false;
  }
}

constexpr unsigned kConnectTimeoutSeconds = 10;
// Error messages quote the start of the failed statement, not the row data of a whole batch.
constexpr std::size_t kQuotedSqlLimit = 300;

std::string where(const Dsn& dsn) {
  return dsn.socket.empty() ? dsn.host + ":" + std::to_string(dsn.port) : dsn.socket;
}

[[noreturn]] void connect_failed(MYSQL* mysql, const Dsn& dsn, bool had_password) {
  const unsigned code = mysql_errno(mysql);
  const std::string server_message = mysql_error(mysql);
  switch (code) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      throw Error(ExitCode::connection,
                  "MySQL at " + where(dsn) + " refused the login of user '" + dsn.user + "' (" +
                      (had_password ? "wrong password or unknown user" : "no password was given") +
                      "); set MYSQL_PWD, use --password-file or --ask-password, and check the "
                      "user in the DSN");
    case ER_DBACCESS_DENIED_ERROR:
      throw Error(ExitCode::connection, "user '" + dsn.user + "' may not use database '" +
                                            dsn.database + "' on " + where(dsn) +
                                            "; grant access or fix the database in the DSN");
    case ER_BAD_DB_ERROR:
      throw Error(ExitCode::connection, "database '" + dsn.database + "' does not exist on " +
                                            where(dsn) + "; fix the database part of the DSN");
    default:
      throw Error(ExitCode::connection, "cannot connect to MySQL at " + where(dsn) + ": " +
                                            server_message +
                                            "; check that the server runs and the DSN's host "
                                            "and port are right");
  }
}

}  // namespace

ServerErrorKind error_kind(unsigned code) {
  switch (code) {
    case ER_LOCK_WAIT_TIMEOUT:
      return ServerErrorKind::lock_timeout;
    case ER_LOCK_DEADLOCK:
      return ServerErrorKind::deadlock;
    case ER_DUP_ENTRY:
    case ER_DUP_ENTRY_WITH_KEY_NAME:
      return ServerErrorKind::unique_violation;
    case ER_WARN_DATA_OUT_OF_RANGE:
    case WARN_DATA_TRUNCATED:
    case ER_TRUNCATED_WRONG_VALUE:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_DATA_TOO_LONG:
    case ER_DATA_OUT_OF_RANGE:
    case ER_DIVISION_BY_ZERO:
    case ER_WRONG_VALUE_FOR_TYPE:
      return ServerErrorKind::bad_value;
    case ER_CONSTRAINT_FAILED:
    case ER_BAD_NULL_ERROR:
    case ER_NO_DEFAULT_FOR_FIELD:
    case ER_ROW_IS_REFERENCED_2:
    case ER_NO_REFERENCED_ROW_2:
      return ServerErrorKind::constraint_violation;
    case ER_BAD_FIELD_ERROR:
    case ER_KEY_COLUMN_DOES_NOT_EXIST:
    case ER_CANT_DROP_FIELD_OR_KEY:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_TABLE_ERROR:
    case ER_BAD_DB_ERROR:
    case ER_KEY_DOES_NOT_EXISTS:
      return ServerErrorKind::undefined_object;
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_PROCACCESS_DENIED_ERROR:
      return ServerErrorKind::access_denied;
    case ER_PARSE_ERROR:
    case ER_DUP_FIELDNAME:
    case ER_DUP_KEYNAME:
    case ER_DUP_CONSTRAINT_NAME:
    case ER_TABLE_EXISTS_ERROR:
    case ER_WRONG_FIELD_SPEC:
    case ER_INVALID_DEFAULT:
    case ER_BLOB_KEY_WITHOUT_LENGTH:
    case ER_TOO_LONG_KEY:
      return ServerErrorKind::invalid_statement;
    default:
      return ServerErrorKind::other;
  }
}

Connection::Connection(const Dsn& dsn, const std::optional<std::string>& password) {
  mysql_ = mysql_init(nullptr);
  if (!mysql_) {
    throw Error(ExitCode::failure, "out of memory creating a MySQL client handle");
  }
  mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &kConnectTimeoutSeconds);
  mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const unsigned protocol = dsn.socket.empty() ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
  mysql_options(mysql_, MYSQL_OPT_PROTOCOL, &protocol);
  if (dsn.socket.empty() && answers_like_postgres(dsn.host, dsn.port)) {
    throw Error(ExitCode::connection, "the server at " + where(dsn) +
                                          " speaks the PostgreSQL protocol, not MySQL's; check "
                                          "the port, or use a postgres:// DSN for it");
  }
  const char* db = dsn.database.empty() ? nullptr : dsn.database.c_str();
  const char* socket = dsn.socket.empty() ? nullptr : dsn.socket.c_str();
  if (!mysql_real_connect(mysql_, dsn.host.c_str(), dsn.user.c_str(),
                          password ? password->c_str() : nullptr, db, dsn.port, socket,
                          CLIENT_MULTI_RESULTS)) {
    std::unique_ptr<MYSQL, decltype(&mysql_close)> closer(mysql_, &mysql_close);
    mysql_ = nullptr;
    connect_failed(closer.get(), dsn, password.has_value());
  }
}

Connection::~Connection() {
  if (mysql_) {
    mysql_close(mysql_);
  }
}

void Connection::fail(std::string_view sql) {
  if (session_lost(mysql_errno(mysql_))) {
    throw ConnectionLost("MySQL session lost (error " + std::to_string(mysql_errno(mysql_)) + ": " +
                         mysql_error(mysql_) + ")");
  }
  const unsigned code = mysql_errno(mysql_);
  const std::string message = mysql_error(mysql_);
  throw ServerError(error_kind(code), std::to_string(code),
                    "MySQL error " + std::to_string(code) + " (" + message +
                        ") running: " + std::string(sql.substr(0, kQuotedSqlLimit)) +
                        (sql.size() > kQuotedSqlLimit ? "…" : ""),
                    message);
}

std::uint64_t Connection::execute(std::string_view sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    fail(sql);
  }
  const std::uint64_t affected = mysql_affected_rows(mysql_);
  if (MYSQL_RES* result = mysql_store_result(mysql_)) {
    mysql_free_result(result);
  }
  return affected;
}

std::vector<ResultRow> Connection::query(std::string_view sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    fail(sql);
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> result(mysql_store_result(mysql_),
                                                                  &mysql_free_result);
  std::vector<ResultRow> rows;
  if (!result) {
    if (mysql_field_count(mysql_) != 0) {
      fail(sql);
    }
    return rows;
  }
  const unsigned columns = mysql_num_fields(result.get());
  while (MYSQL_ROW row = mysql_fetch_row(result.get())) {
    unsigned long* lengths = mysql_fetch_lengths(result.get());
    ResultRow values;
    values.reserve(columns);
    for (unsigned i = 0; i < columns; ++i) {
      values.push_back(row[i] ? std::optional<std::string>(std::string(row[i], lengths[i]))
                              : std::nullopt);
    }
    rows.push_back(std::move(values));
  }
  return rows;
}

std::string Connection::quote_literal(std::string_view text) {
  std::string escaped(text.size() * 2 + 1, '\0');
  unsigned long length = mysql_real_escape_string(mysql_, escaped.data(), text.data(),
                                                  static_cast<unsigned long>(text.size()));
  escaped.resize(length);
  return "'" + escaped + "'";
}

std::vector<std::string> Connection::lock_statements(const std::vector<TableLockRequest>& tables,
                                                     std::chrono::milliseconds timeout) const {
  return lock_tables_sql(tables, timeout);
}

std::string Connection::unlock_statement(bool /*commit*/) const {
  return "UNLOCK TABLES";
}

bool has_code(const ServerError& error, unsigned code) {
  return error.code() == std::to_string(code);
}

}  // namespace sluice::mysql

// The one translation of refused statements into a user's sentence and exit code, and each
// family's classification of its codes (src/server_errors.h, docs/exit-codes.md).
#include "src/server_errors.h"

#include <doctest/doctest.h>
#include <mysqld_error.h>

#include "src/mysql/mysql_connection.h"
#include "src/postgres/pg_connection.h"

using sluice::ExitCode;
using sluice::ServerError;
using sluice::ServerErrorKind;

namespace {

sluice::Error explained(ServerErrorKind kind) {
  return sluice::explain_server_error(
      ServerError(kind, "x", "PostgreSQL error (ERROR:  boom) running: SELECT 1", "boom"));
}

}  // namespace

TEST_CASE("PostgreSQL SQLSTATEs are classified by class") {
  using sluice::postgres::error_kind;
  CHECK(error_kind("55P03") == ServerErrorKind::lock_timeout);
  CHECK(error_kind("40P01") == ServerErrorKind::deadlock);
  CHECK(error_kind("23505") == ServerErrorKind::unique_violation);
  CHECK(error_kind("22003") == ServerErrorKind::bad_value);             // integer out of range
  CHECK(error_kind("22P02") == ServerErrorKind::bad_value);             // invalid input syntax
  CHECK(error_kind("23514") == ServerErrorKind::constraint_violation);  // check violation
  CHECK(error_kind("23502") == ServerErrorKind::constraint_violation);  // not null
  CHECK(error_kind("42703") == ServerErrorKind::undefined_object);
  CHECK(error_kind("42P01") == ServerErrorKind::undefined_object);
  CHECK(error_kind("3F000") == ServerErrorKind::undefined_object);
  CHECK(error_kind("42501") == ServerErrorKind::access_denied);
  CHECK(error_kind("42601") == ServerErrorKind::invalid_statement);
  CHECK(error_kind("42701") == ServerErrorKind::invalid_statement);
  CHECK(error_kind("XX000") == ServerErrorKind::other);
}

TEST_CASE("MySQL error numbers are classified") {
  using sluice::mysql::error_kind;
  CHECK(error_kind(ER_LOCK_WAIT_TIMEOUT) == ServerErrorKind::lock_timeout);
  CHECK(error_kind(ER_DUP_ENTRY) == ServerErrorKind::unique_violation);
  CHECK(error_kind(ER_WARN_DATA_OUT_OF_RANGE) == ServerErrorKind::bad_value);
  CHECK(error_kind(ER_CONSTRAINT_FAILED) == ServerErrorKind::constraint_violation);
  CHECK(error_kind(ER_KEY_COLUMN_DOES_NOT_EXIST) == ServerErrorKind::undefined_object);
  CHECK(error_kind(ER_BAD_FIELD_ERROR) == ServerErrorKind::undefined_object);
  CHECK(error_kind(ER_TABLEACCESS_DENIED_ERROR) == ServerErrorKind::access_denied);
  CHECK(error_kind(ER_PARSE_ERROR) == ServerErrorKind::invalid_statement);
  CHECK(error_kind(ER_DUP_FIELDNAME) == ServerErrorKind::invalid_statement);
  CHECK(error_kind(ER_OUT_OF_RESOURCES) == ServerErrorKind::other);
}

TEST_CASE("a foreseeable refusal becomes one sentence without the statement, with its exit code") {
  CHECK(explained(ServerErrorKind::bad_value).code() == ExitCode::preflight_failed);
  CHECK(explained(ServerErrorKind::constraint_violation).code() == ExitCode::preflight_failed);
  CHECK(explained(ServerErrorKind::undefined_object).code() == ExitCode::not_found);
  CHECK(explained(ServerErrorKind::access_denied).code() == ExitCode::preflight_failed);
  CHECK(explained(ServerErrorKind::invalid_statement).code() == ExitCode::usage);
  for (ServerErrorKind kind : {ServerErrorKind::bad_value, ServerErrorKind::constraint_violation,
                               ServerErrorKind::undefined_object, ServerErrorKind::access_denied,
                               ServerErrorKind::invalid_statement}) {
    const std::string message = explained(kind).what();
    CHECK(message.find("(boom)") != std::string::npos);
    CHECK(message.find("running:") == std::string::npos);
  }
}

TEST_CASE("an unforeseen refusal stays exit 1 with the statement, for the bug report") {
  for (ServerErrorKind kind : {ServerErrorKind::other, ServerErrorKind::deadlock}) {
    const sluice::Error error = explained(kind);
    CHECK(error.code() == ExitCode::failure);
    CHECK(std::string(error.what()).find("running: SELECT 1") != std::string::npos);
  }
  const sluice::Error plain(ExitCode::aborted, "aborted");
  CHECK(sluice::user_error(plain).code() == ExitCode::aborted);
  CHECK(sluice::user_error(ServerError(ServerErrorKind::undefined_object, "42703", "raw", "no"))
            .code() == ExitCode::not_found);
}

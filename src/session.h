#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddl/identifier.h"
#include "src/error.h"

namespace sluice {

// One row of a result; NULL columns are nullopt.
using ResultRow = std::vector<std::optional<std::string>>;

// What the engine's policies need to know about a statement the server refused. A lost session
// is not a refusal: it is ConnectionLost (src/reconnect.h), whether or not the statement ran.
// The kinds after unique_violation are the refusals a user can cause and fix (bad data for a
// new definition, a name that does not exist, a missing privilege, a statement the server
// rejects); explain_server_error (src/server_errors.h) turns them into one sentence and an exit
// code. Each family classifies its codes in one function (mysql::error_kind,
// postgres::error_kind).
enum class ServerErrorKind {
  lock_timeout,          // waited too long for a lock (MySQL 1205, PostgreSQL 55P03)
  deadlock,              // chosen as a deadlock victim (MySQL 1213, PostgreSQL 40P01)
  unique_violation,      // a duplicate key (MySQL 1062, PostgreSQL 23505)
  bad_value,             // a value the column cannot hold (PostgreSQL class 22: out of range...)
  constraint_violation,  // a CHECK, NOT NULL or foreign key (PostgreSQL class 23 but 23505)
  undefined_object,      // a table, column, index or schema that does not exist
  access_denied,         // a missing privilege (PostgreSQL 42501)
  invalid_statement,     // syntax, or a definition the server rejects (rest of PostgreSQL 42)
  other,
};

// A statement the server refused. `code()` is the server's own code as text (MySQL's error
// number, PostgreSQL's SQLSTATE) for the few callers that act on one particular error;
// `server_message()` the server's own words, without the statement.
class ServerError : public Error {
 public:
  ServerError(ServerErrorKind kind, std::string code, const std::string& message,
              std::string server_message = {})
      : Error(ExitCode::failure, message),
        kind_(kind),
        code_(std::move(code)),
        server_message_(server_message.empty() ? message : std::move(server_message)) {}
  ServerErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }
  const std::string& server_message() const { return server_message_; }

 private:
  ServerErrorKind kind_;
  std::string code_;
  std::string server_message_;
};

// How strongly a TableLock keeps others away from a table.
enum class LockMode {
  block_writes,  // readers go on, writers wait (MySQL READ, PostgreSQL SHARE)
  exclusive,     // everyone waits (MySQL WRITE, PostgreSQL ACCESS EXCLUSIVE)
};

struct TableLockRequest {
  ddl::QualifiedName table;
  LockMode mode = LockMode::exclusive;
};

// One client session to a server, the engine's only way to run SQL. Each server family
// implements it (src/mysql/mysql_connection.h, src/postgres/pg_connection.h) and supplies the
// SQL of the guards below. Not thread-safe: one thread uses a session at a time.
class Session {
 public:
  Session() = default;
  virtual ~Session() = default;
  // A session is one server connection: it is never copied.
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  virtual ddl::Dialect dialect() const = 0;

  // Runs a statement that returns no rows (PostgreSQL: one or more, ';'-separated) and returns
  // the number of rows the last one changed. Throws ServerError when the server refuses it and
  // ConnectionLost when the session is gone.
  virtual std::uint64_t execute(std::string_view sql) = 0;

  // Runs a query and returns every row. Throws as execute() does.
  virtual std::vector<ResultRow> query(std::string_view sql) = 0;

  // The first column of the first row, or nullopt for no row or NULL.
  std::optional<std::string> query_value(std::string_view sql);

  // `text` as a quoted string literal for this session.
  virtual std::string quote_literal(std::string_view text) = 0;

  // `name` quoted for this session's dialect.
  std::string quote(std::string_view identifier) const;
  std::string quote(const ddl::QualifiedName& name) const;

  // The statements that take `tables`' locks waiting at most `timeout` (rounded up to whole
  // seconds on MySQL), and the one that gives them back. PostgreSQL holds table locks in a
  // transaction: its lock statements open one, and giving the locks back ends it, committing
  // what was done under them when `commit`. MySQL's LOCK TABLES is released by UNLOCK TABLES
  // either way.
  virtual std::vector<std::string> lock_statements(const std::vector<TableLockRequest>& tables,
                                                   std::chrono::milliseconds timeout) const = 0;
  virtual std::string unlock_statement(bool commit) const = 0;
};

// A transaction on `session`, rolled back unless commit() was called. A rollback that fails
// (the session is gone, which ends the transaction anyway) is logged, never thrown: the error
// that unwound the guard is the one the caller must see.
class Transaction {
 public:
  // `begin` opens it: "BEGIN", or a variant such as "START TRANSACTION WITH CONSISTENT SNAPSHOT"
  // or "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".
  explicit Transaction(Session& session, std::string_view begin = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();
  Session& session() { return session_; }

 private:
  Session& session_;
  bool open_ = true;
};

// Table locks held on `session`, given back on destruction (PostgreSQL: the transaction holding
// them rolls back). Waits for the locks at most `timeout`: a lock the application holds longer
// makes the constructor throw ServerError(ServerErrorKind::lock_timeout) and holds nothing, so
// sluice never keeps the application's queries queued behind its own lock request. Retry with
// retry_lock_waits (src/lock_retry.h).
class TableLock {
 public:
  TableLock(Session& session, const std::vector<TableLockRequest>& tables,
            std::chrono::milliseconds timeout);
  // Takes the locks with `statements`: a family's variant of session.lock_statements (for
  // example one that first looks at who holds the table), given back as those are.
  TableLock(Session& session, const std::vector<std::string>& statements);
  ~TableLock();
  TableLock(const TableLock&) = delete;
  TableLock& operator=(const TableLock&) = delete;

  // Gives the locks back now, committing what was done under them (PostgreSQL).
  void release();
  Session& session() { return session_; }

 private:
  Session& session_;
  bool held_ = false;
};

}  // namespace sluice

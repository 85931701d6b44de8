#include "src/session.h"

#include <spdlog/spdlog.h>

namespace sluice {

std::optional<std::string> Session::query_value(std::string_view sql) {
  std::vector<ResultRow> rows = query(sql);
  if (rows.empty() || rows.front().empty()) {
    return std::nullopt;
  }
  return rows.front().front();
}

std::string Session::quote(std::string_view identifier) const {
  return ddl::quote_identifier(dialect(), std::string(identifier));
}

std::string Session::quote(const ddl::QualifiedName& name) const {
  return ddl::quote_qualified(dialect(), name);
}

Transaction::Transaction(Session& session, std::string_view begin) : session_(session) {
  session_.execute(begin);
}

Transaction::~Transaction() {
  if (!open_) {
    return;
  }
  try {
    session_.execute("ROLLBACK");
  } catch (const std::exception& error) {
    spdlog::debug("rolling back after a failure failed too ({}); the first error stands",
                  error.what());
  }
}

void Transaction::commit() {
  open_ = false;
  session_.execute("COMMIT");
}

TableLock::TableLock(Session& session, const std::vector<TableLockRequest>& tables,
                     std::chrono::milliseconds timeout)
    : TableLock(session, session.lock_statements(tables, timeout)) {}

TableLock::TableLock(Session& session, const std::vector<std::string>& statements)
    : session_(session) {
  try {
    for (const std::string& statement : statements) {
      session_.execute(statement);
    }
  } catch (...) {
    // PostgreSQL's lock statements opened a transaction before the LOCK failed.
    try {
      session_.execute(session_.unlock_statement(false));
    } catch (const std::exception& error) {
      spdlog::debug("giving back a lock that was not taken failed ({})", error.what());
    }
    throw;
  }
  held_ = true;
}

TableLock::~TableLock() {
  if (!held_) {
    return;
  }
  try {
    session_.execute(session_.unlock_statement(false));
  } catch (const std::exception& error) {
    // A lost session gives its locks back with it.
    spdlog::debug("giving back table locks failed ({}); the first error stands", error.what());
  }
}

void TableLock::release() {
  held_ = false;
  session_.execute(session_.unlock_statement(true));
}

}  // namespace sluice

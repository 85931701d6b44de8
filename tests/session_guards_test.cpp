// The transaction and table-lock guards and the lock-retry policy, over a session that records
// the statements it is given (the guards' SQL is the families' builders, tested below too).
#include <doctest/doctest.h>

#include <stdexcept>

#include "src/lock_retry.h"
#include "src/mysql/mysql_sql.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/session.h"

namespace {

using namespace sluice;
using std::chrono::milliseconds;

// Records statements; fails the statement that starts with `fail_on` once per entry in
// `failures` (front first), and every statement once `lost` is set.
class RecordingSession : public Session {
 public:
  explicit RecordingSession(ddl::Dialect dialect) : dialect_(dialect) {}
  ddl::Dialect dialect() const override { return dialect_; }
  std::uint64_t execute(std::string_view sql) override {
    statements.emplace_back(sql);
    if (lost) {
      throw std::runtime_error("session lost");
    }
    if (!failures.empty() && std::string_view(sql).substr(0, fail_on.size()) == fail_on) {
      ServerErrorKind kind = failures.front();
      failures.erase(failures.begin());
      throw ServerError(kind, "test", "refused: " + std::string(sql));
    }
    return 0;
  }
  std::vector<ResultRow> query(std::string_view sql) override {
    execute(sql);
    return {};
  }
  std::string quote_literal(std::string_view text) override {
    return "'" + std::string(text) + "'";
  }
  std::vector<std::string> lock_statements(const std::vector<TableLockRequest>& tables,
                                           milliseconds timeout) const override {
    return dialect_ == ddl::Dialect::mysql ? mysql::lock_tables_sql(tables, timeout)
                                           : postgres::lock_tables_sql(tables, timeout);
  }
  std::string unlock_statement(bool commit) const override {
    return dialect_ == ddl::Dialect::mysql ? "UNLOCK TABLES" : (commit ? "COMMIT" : "ROLLBACK");
  }

  std::vector<std::string> statements;
  std::string fail_on;
  std::vector<ServerErrorKind> failures;
  bool lost = false;

 private:
  ddl::Dialect dialect_;
};

LockRetryPolicy quick(int attempts) {
  LockRetryPolicy policy;
  policy.attempts = attempts;
  policy.first_pause = milliseconds(1);
  return policy;
}

}  // namespace

TEST_CASE(
    "a transaction rolls back unless committed, and a failed rollback keeps the first error") {
  RecordingSession session(ddl::Dialect::postgres);
  {
    Transaction transaction(session, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    session.execute("INSERT 1");
  }
  CHECK(session.statements ==
        std::vector<std::string>{"BEGIN ISOLATION LEVEL REPEATABLE READ", "INSERT 1", "ROLLBACK"});

  session.statements.clear();
  {
    Transaction transaction(session);
    transaction.commit();
  }
  CHECK(session.statements == std::vector<std::string>{"BEGIN", "COMMIT"});

  session.statements.clear();
  try {
    Transaction transaction(session);
    session.lost = true;
    throw std::logic_error("the first error");
  } catch (const std::logic_error& error) {
    CHECK(std::string(error.what()) == "the first error");
  }
  CHECK(session.statements.back() == "ROLLBACK");
}

TEST_CASE("table locks: MySQL takes them in one LOCK TABLES and gives them back with UNLOCK") {
  RecordingSession session(ddl::Dialect::mysql);
  {
    TableLock lock(
        session,
        {{{"db", "t"}, LockMode::exclusive}, {{"db", "t_sluice_old"}, LockMode::exclusive}},
        milliseconds(1500));
  }
  CHECK(session.statements ==
        std::vector<std::string>{"SET SESSION lock_wait_timeout = 2",
                                 "LOCK TABLES `db`.`t` WRITE, `db`.`t_sluice_old` WRITE",
                                 "UNLOCK TABLES"});
  CHECK(mysql::lock_tables_sql({{{"db", "t"}, LockMode::block_writes}}, milliseconds(1)).back() ==
        "LOCK TABLES `db`.`t` READ");
}

TEST_CASE("table locks: PostgreSQL holds them in a transaction that release() commits") {
  RecordingSession session(ddl::Dialect::postgres);
  {
    TableLock lock(session, {{{"public", "t"}, LockMode::block_writes}}, milliseconds(250));
    lock.release();
  }
  CHECK(session.statements == std::vector<std::string>{"BEGIN", "SET LOCAL lock_timeout = '250ms'",
                                                       "LOCK TABLE \"public\".\"t\" IN SHARE MODE",
                                                       "COMMIT"});
  // lock_timeout = 0 would wait forever.
  CHECK(postgres::lock_tables_sql({{{"public", "t"}, LockMode::exclusive}}, milliseconds(0)) ==
        std::vector<std::string>{"BEGIN", "SET LOCAL lock_timeout = '1ms'",
                                 "LOCK TABLE \"public\".\"t\" IN ACCESS EXCLUSIVE MODE"});
}

TEST_CASE("a lock that times out holds nothing: the open transaction is rolled back") {
  RecordingSession session(ddl::Dialect::postgres);
  session.fail_on = "LOCK TABLE";
  session.failures = {ServerErrorKind::lock_timeout};
  CHECK_THROWS_AS(TableLock(session, {{{"public", "t"}, LockMode::exclusive}}, milliseconds(10)),
                  ServerError);
  CHECK(session.statements.back() == "ROLLBACK");
}

TEST_CASE("lock conflicts are retried with back-off; other errors and the last attempt are not") {
  RecordingSession session(ddl::Dialect::mysql);
  session.fail_on = "LOCK";
  session.failures = {ServerErrorKind::lock_timeout, ServerErrorKind::deadlock};
  int attempts = 0;
  retry_lock_waits("a test lock", quick(3), [&] {
    ++attempts;
    TableLock lock(session, {{{"db", "t"}, LockMode::exclusive}}, milliseconds(10));
  });
  CHECK(attempts == 3);

  session.failures = {ServerErrorKind::lock_timeout, ServerErrorKind::lock_timeout};
  attempts = 0;
  CHECK_THROWS_WITH_AS(retry_lock_waits("a test lock", quick(2),
                                        [&] {
                                          ++attempts;
                                          session.execute("LOCK x");
                                        }),
                       doctest::Contains("a test lock failed 2 times"), Error);
  CHECK(attempts == 2);

  session.failures = {ServerErrorKind::unique_violation};
  attempts = 0;
  CHECK_THROWS_AS(retry_lock_waits("a test insert", quick(5),
                                   [&] {
                                     ++attempts;
                                     session.execute("LOCK y");
                                   }),
                  ServerError);
  CHECK(attempts == 1);
}

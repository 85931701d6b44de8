// --max-write-block (docs/architecture.md §3, rule 13): verification and the cut-over never keep
// the application's writes blocked longer than the bound while they drain the change stream.
// A writer whose every transaction changes thousands of rows, back to back, leaves at least one
// such transaction for each drain under a write block (the lock waits for the one in flight),
// and applying it takes far longer than the bound: every attempt must release its lock and the
// run must give up, changing nothing. With the default bound the same run completes. The writer
// sees no error either way, and the table equals the twin it writes in the same transactions.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "integration/sql_session.h"
#include "integration/support.h"

namespace sluice::test {
namespace {

struct Server {
  ServerKind kind;
  std::string fill;            // inserts 20,000 rows into the table named by {}
  std::string alter;           // the ALTER sluice runs
  std::string column_type;     // the type of wb.k, as the first column of one row
  std::string widened;         // column_type's answer after the ALTER
  std::string leftover_count;  // how many shadow tables are left
};

Server mysql_server() {
  return {ServerKind::mysql,
          "INSERT INTO {} SELECT seq, seq FROM seq_1_to_20000",
          "MODIFY k BIGINT NOT NULL",
          "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
          "TABLE_NAME = 'wb' AND COLUMN_NAME = 'k'",
          "bigint",
          "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
          "TABLE_NAME LIKE 'wb\\_sluice%'"};
}

Server postgres_server() {
  return {ServerKind::postgres,
          "INSERT INTO {} SELECT g, g FROM generate_series(1, 20000) g",
          "ALTER COLUMN k TYPE bigint",
          "SELECT data_type FROM information_schema.columns WHERE table_schema = "
          "current_schema() AND table_name = 'wb' AND column_name = 'k'",
          "bigint",
          "SELECT COUNT(*) FROM pg_class WHERE relname = '_wb_new'"};
}

std::string with_table(std::string sql, const std::string& table) {
  return sql.replace(sql.find("{}"), 2, table);
}

// Changes the first `rows` rows of the table and of its twin in each transaction, back to back.
class BulkWriter {
 public:
  BulkWriter(const std::string& dsn, int rows)
      : session_(open_session(parse_dsn(dsn))),
        rows_(std::to_string(rows)),
        thread_([this] { run(); }) {}
  ~BulkWriter() { stop(); }
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  int transactions() const { return transactions_.load(); }
  const std::string& error() const { return error_; }

 private:
  void run() {
    try {
      while (!stopping_) {
        session_->execute("BEGIN");
        session_->execute("UPDATE wb SET k = k + 1 WHERE id <= " + rows_);
        session_->execute("UPDATE wb_twin SET k = k + 1 WHERE id <= " + rows_);
        session_->execute("COMMIT");
        ++transactions_;
      }
    } catch (const std::exception& error) {
      error_ = error.what();
    }
  }

  std::unique_ptr<SqlSession> session_;
  std::string rows_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> transactions_{0};
  std::string error_;
  std::thread thread_;  // last: started once the members it uses exist
};

std::unique_ptr<SqlSession> fresh_tables(const Server& server) {
  std::unique_ptr<SqlSession> db = open_session(parse_dsn(server_dsn(server.kind)));
  for (const char* table : {"wb", "wb_twin", "_wb_old"}) {
    db->execute(std::string("DROP TABLE IF EXISTS ") + table);
  }
  for (const char* table : {"wb", "wb_twin"}) {
    db->execute(std::string("CREATE TABLE ") + table + " (id INT PRIMARY KEY, k INT NOT NULL)");
    db->execute(with_table(server.fill, table));
  }
  return db;
}

std::vector<std::string> alter_args(const Server& server) {
  return {"alter",      "--dsn",    server_dsn(server.kind), "--table", "wb", "--alter",
          server.alter, "--execute"};
}

void check_untouched(SqlSession& db, const Server& server, const std::string& type) {
  CHECK(db.value(server.column_type) == type);
  CHECK(db.value(server.leftover_count) == "0");
}

void check_twin(SqlSession& db, BulkWriter& writer) {
  writer.stop();
  CHECK(writer.error().empty());
  CHECK(writer.transactions() > 0);
  CHECK(db.query("SELECT id, k FROM wb ORDER BY id") ==
        db.query("SELECT id, k FROM wb_twin ORDER BY id"));
}

void check_write_block_bound(const Server& server) {
  std::unique_ptr<SqlSession> db = fresh_tables(server);
  const std::string before = db->value(server.column_type);
  BulkWriter writer(server_dsn(server.kind), 2000);
  const std::vector<std::string> alter = alter_args(server);

  std::vector<std::string> bounded = alter;
  bounded.insert(bounded.end(), {"--max-write-block", "5", "--cutover-attempts", "2"});
  const RunResult refused = run_sluice(bounded);
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("released its write lock 2 times") != std::string::npos);
  CHECK(refused.err.find("raise --max-write-block") != std::string::npos);
  check_untouched(*db, server, before);

  const RunResult done = run_sluice(alter);
  INFO(done.out << done.err);
  CHECK(done.exit_code == 0);
  CHECK(db->value(server.column_type) == server.widened);
  check_twin(*db, writer);
}

// The cut-over's own drain, apart from verification's: verification runs on an idle table
// while the cut-over is postponed, and the writer starts only then.
void check_cut_over_bound(const Server& server) {
  std::unique_ptr<SqlSession> db = fresh_tables(server);
  const std::string before = db->value(server.column_type);
  ScratchDir scratch;
  scratch.touch("postpone");
  std::vector<std::string> args = alter_args(server);
  args.insert(args.end(), {"--max-write-block", "30", "--cutover-attempts", "3",
                           "--postpone-cutover-flag-file", scratch.file("postpone")});
  SluiceProcess run(args, true);
  REQUIRE(run.wait_for("the shadow table equals the original", std::chrono::seconds(120)));
  BulkWriter writer(server_dsn(server.kind), 20000);
  REQUIRE(eventually([&] { return writer.transactions() > 0; }, std::chrono::seconds(60)));
  scratch.remove("postpone");
  const int exit_code = run.wait(std::chrono::seconds(300));
  INFO(run.out());
  CHECK(exit_code == 1);
  CHECK(run.out().find("the cut-over released its write lock 3 times") != std::string::npos);
  check_untouched(*db, server, before);
  check_twin(*db, writer);
}

TEST_CASE("MariaDB: a drain under a write block past --max-write-block releases the lock") {
  check_write_block_bound(mysql_server());
}

TEST_CASE("PostgreSQL: a drain under a write block past --max-write-block releases the lock") {
  check_write_block_bound(postgres_server());
}

TEST_CASE("MariaDB: the cut-over's drain past --max-write-block releases the lock") {
  check_cut_over_bound(mysql_server());
}

TEST_CASE("PostgreSQL: the cut-over's drain past --max-write-block releases the lock") {
  check_cut_over_bound(postgres_server());
}

}  // namespace
}  // namespace sluice::test

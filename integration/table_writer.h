#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "src/dsn.h"
#include "src/mysql/mysql_connection.h"

namespace sluice::test {

// An application stand-in for migration tests: writes random multi-row transactions to a table
// and applies each one identically to a twin table that no migration touches, so that after a
// migration the migrated table must equal the twin row for row. Inserts, updates, key changes,
// deletes and swaps of the unique `code` value between two rows, with NULLs and multi-byte text.
//
// The table shape is fixed (see create_typed_table); `composite` adds a column `a` to the
// primary key.
class TableWriter {
 public:
  TableWriter(const Dsn& dsn, std::string table, std::string twin);
  ~TableWriter();
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  void start();
  // Stops the thread and rethrows the first unexpected error it hit.
  void stop();
  std::uint64_t transactions() const { return transactions_.load(); }
  // Transactions retried after a deadlock error.
  std::uint64_t deadlocks() const { return deadlocks_.load(); }
  // Times the writer got a new session after losing one (server restart, killed session), as
  // an application with a connection pool would.
  std::uint64_t reconnects() const { return reconnects_.load(); }

 private:
  void run();
  void one_transaction();
  void reconnect();
  std::string random_row_values(std::int64_t id);
  std::int64_t random_existing_id();
  void both(const std::string& statement_for_table);

  Dsn dsn_;
  std::string table_;
  std::string twin_;
  std::unique_ptr<mysql::Connection> connection_;
  std::vector<std::int64_t> ids_;
  bool composite_ = false;
  std::int64_t next_id_ = 0;
  std::int64_t next_code_ = 0;
  std::mt19937_64 random_{42};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> deadlocks_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::string error_;
};

// Creates `table` and its twin with every common MySQL type, a UNIQUE `code`, a generated
// column, a column `legacy` the writer never touches (so a test may drop it) and `rows` rows;
// `composite` makes the primary key (a, id).
void create_typed_table(mysql::Connection& db, const std::string& table, const std::string& twin,
                        int rows, bool composite);

// Every row of the columns both tables share, in key order, as text (binary via HEX()).
std::vector<std::vector<std::optional<std::string>>> table_rows(mysql::Connection& db,
                                                                const std::string& table,
                                                                const std::string& other);

}  // namespace sluice::test

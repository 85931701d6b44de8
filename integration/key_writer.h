#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/row_diff.h"
#include "src/dsn.h"
#include "src/mysql/mysql_connection.h"

namespace sluice::test {

// One kind of key for the key-kind migration tests: its columns and how the key numbered `n`
// is spelled. Spellings of one number are equal under the key's collation ('e' and 'É' under a
// _ci one) and differ in their bytes, so a migration that compares keys in the client, or
// writes the wrong spelling, shows in the final comparison.
struct KeyKind {
  std::string columns;  // key column definitions, e.g. "k VARCHAR(40) … NOT NULL"
  std::string key;      // "PRIMARY KEY (k)" or "UNIQUE KEY uk (k)"
  std::vector<std::string> key_columns;  // the key's columns, in key order
  // SQL expressions of the key's values, one per key column, for the integer SQL expressions
  // `n` (the key's number) and `spelling` (0 … spellings - 1).
  std::function<std::vector<std::string>(const std::string& n, const std::string& spelling)> values;
  int spellings = 1;
};

// Creates `table` and its twin (key, v INT, code INT UNIQUE, note) with the keys numbered 1 …
// `rows`, key n spelled the (n % spellings)-th way.
void create_keyed_table(mysql::Connection& db, const std::string& table, const std::string& twin,
                        const KeyKind& kind, int rows);

// Every row of the columns both tables share, ordered by the key's bytes, key columns as HEX().
Rows keyed_rows(mysql::Connection& db, const std::string& table, const KeyKind& kind);

// An application stand-in for a keyed table: random transactions of inserts, updates through
// another spelling of the key, respellings of a key, key changes, deletes and swaps of the
// unique `code` between two rows, each applied identically to the twin in the same transaction.
class KeyWriter {
 public:
  KeyWriter(const Dsn& dsn, std::string table, std::string twin, KeyKind kind);
  ~KeyWriter();
  KeyWriter(const KeyWriter&) = delete;
  KeyWriter& operator=(const KeyWriter&) = delete;

  // Starts writing to a table create_keyed_table made with `rows` rows.
  void start(int rows);
  // Stops the thread and rethrows the first unexpected error it hit.
  void stop();
  std::uint64_t transactions() const { return transactions_.load(); }

 private:
  void run();
  void one_transaction();
  std::string where(std::int64_t n, int spelling) const;
  std::string assign(std::int64_t n, int spelling) const;
  std::int64_t random_existing();
  void both(const std::string& statement);

  Dsn dsn_;
  std::string table_;
  std::string twin_;
  KeyKind kind_;
  std::unique_ptr<mysql::Connection> connection_;
  std::map<std::int64_t, int> live_;  // key number to its current spelling
  std::int64_t next_ = 50'000'000;
  std::int64_t next_code_ = 50'000'000;
  std::mt19937_64 random_{7};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> transactions_{0};
  std::string error_;
};

}  // namespace sluice::test

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "src/dsn.h"
#include "src/postgres/pg_connection.h"

namespace sluice::test {

// The key of a test table. Each row has a number n (the writer's id); its key column `id` holds
// `value` with n in place of each "{}", of `type`; a composite key also has a column `a` of
// `a_type` holding `a_value` of n. Unless the key is the default integer, the table also has a
// column n, so that the writer finds its numbers again.
struct PgKeySpec {
  std::string type = "integer";
  std::string value = "{}";
  std::string a_type;  // empty: the key is `id` alone
  std::string a_value;
  bool unique_index = false;  // the replica identity is a unique index, not a primary key

  bool numbered() const { return value != "{}"; }
  // `value` (or `a_value`) for the number n.
  std::string id_of(std::int64_t n) const;
  std::string a_of(std::int64_t n) const;
};

// The PostgreSQL counterpart of TableWriter: an application stand-in that writes random
// multi-statement transactions to a table and applies each one identically to a twin table no
// migration touches, so that after a migration the migrated table must equal the twin row for
// row. Inserts, updates, key changes, deletes, rows deleted and inserted again with the same
// key (in one transaction or later), swaps of the unique `code` between two rows, transactions
// that roll back, and TOASTed `big` values that most updates leave unchanged (the change stream
// then carries them as "unchanged" markers, not as data).
class PgTableWriter {
 public:
  // `key` as the table was created with; a table created with `composite` is detected.
  PgTableWriter(const Dsn& dsn, std::string table, std::string twin, PgKeySpec key = {});
  ~PgTableWriter();
  PgTableWriter(const PgTableWriter&) = delete;
  PgTableWriter& operator=(const PgTableWriter&) = delete;

  void start();
  // Stops the thread and rethrows the first unexpected error it hit.
  void stop();
  std::uint64_t transactions() const { return transactions_.load(); }
  std::uint64_t rollbacks() const { return rollbacks_.load(); }
  // Times the writer got a new session after losing one (server restart, terminated session).
  std::uint64_t reconnects() const { return reconnects_.load(); }

 private:
  void run();
  void one_transaction();
  void reconnect();
  std::string insert_row(std::int64_t id);
  std::string random_row_values();
  std::string random_big();
  std::int64_t random_existing_id();
  void both(const std::string& statement_for_table);

  Dsn dsn_;
  std::string table_;
  std::string twin_;
  std::unique_ptr<postgres::Connection> connection_;
  PgKeySpec key_;
  std::vector<std::int64_t> ids_;
  std::vector<std::int64_t> deleted_;  // committed deletes whose id may be inserted again
  std::int64_t next_id_ = 0;
  std::int64_t next_code_ = 0;
  std::mt19937_64 random_{42};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> rollbacks_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::string error_;
};

// Creates `table` and its twin (integer key `id`, or (a, id) when `composite`), with an index
// <table>_k on `k`, a partial unique index on the key and a partial index on `amount`, a
// CHECK on `k`, a UNIQUE `code`, text, numeric, timestamp, timestamptz, JSON-as-text, bytea,
// TOASTed text, a generated column (from `code`, which no test alters) and a column `legacy` the
// writer never touches (so a test may drop it), and `rows` rows.
void create_pg_table(postgres::Connection& db, const std::string& table, const std::string& twin,
                     int rows, bool composite);
// The same table keyed as `key` says; with `sparse`, a few more rows whose numbers lie near
// 2^62.
void create_pg_table(postgres::Connection& db, const std::string& table, const std::string& twin,
                     int rows, const PgKeySpec& key, bool sparse = false);

// What a migration must keep of `table`, comparable with its twin's: the replica identity, its
// indexes' definitions (unique, partial, which one is the identity) without their names, and
// its constraints' definitions.
std::string pg_table_shape(postgres::Connection& db, const std::string& table);

// Every row of `table` over the columns it shares with `other`, in key order, as text; values
// are cast to the types the columns have in `types_from` (the migrated table) first, so a twin's
// value prints as the migrated one would.
std::vector<std::vector<std::optional<std::string>>> pg_table_rows(postgres::Connection& db,
                                                                   const std::string& table,
                                                                   const std::string& other,
                                                                   const std::string& types_from);

}  // namespace sluice::test

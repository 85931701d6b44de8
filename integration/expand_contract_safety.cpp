// Expand-contract scenarios about what sluice must never do: record an index it did not build,
// or make the application's transactions fail (expand_contract_scenarios.h).
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include "integration/expand_contract_support.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

bool is_postgres(const Scenario& scenario) {
  return scenario.text_type == "text";
}

std::string add_index_file(const MigrationDir& dir, const std::string& file,
                           const std::string& name, const std::string& table,
                           const std::string& columns, bool unique = false) {
  return dir.write(file, "name = " + name + "\ntable = " + table +
                             "\noperation = add-index\nindex-columns = " + columns +
                             "\nindex-name = by_customer\nunique = " + (unique ? "true" : "false") +
                             "\n");
}

// The tables holding an index named by_customer, and on which columns.
std::string indexes_named(SqlSession& db, const Scenario& scenario) {
  return db.value(is_postgres(scenario)
                      ? "SELECT string_agg(indrelid::regclass::text || ':' || indisvalid, ',' "
                        "ORDER BY indrelid::regclass::text) FROM pg_index WHERE indexrelid IN "
                        "(SELECT oid FROM pg_class WHERE relname = 'by_customer')"
                      : "SELECT GROUP_CONCAT(TABLE_NAME, ':', COLUMN_NAME ORDER BY TABLE_NAME) "
                        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
                        "INDEX_NAME = 'by_customer'");
}

// Application transactions that each update a few random rows in random order, dual-writing
// `email` and `mail`, on several sessions, counting every statement the server refuses.
class RandomOrderWriter {
 public:
  RandomOrderWriter(const Scenario& scenario, std::string table, int rows, int sessions)
      : table_(std::move(table)) {
    for (int i = 0; i < sessions; ++i) {
      threads_.emplace_back([this, dsn = scenario.dsn, rows, i] { run(dsn, rows, i); });
    }
  }
  ~RandomOrderWriter() { stop(); }
  void stop() {
    stopping_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }
  int errors() const { return errors_.load(); }
  int commits() const { return commits_.load(); }
  std::string first_error() {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_error_;
  }

 private:
  void run(const std::string& dsn, int rows, int seed) {
    std::unique_ptr<SqlSession> db = open_session(parse_dsn(dsn));
    std::mt19937 random(static_cast<unsigned>(seed) + 17);
    std::uniform_int_distribution<int> id(1, rows);
    for (int n = 0; !stopping_; ++n) {
      try {
        db->execute("BEGIN");
        for (int row = 0; row < 6; ++row) {
          const std::string value =
              db->literal("w" + std::to_string(seed) + "-" + std::to_string(n));
          db->execute("UPDATE " + table_ + " SET email = " + value + ", mail = " + value +
                      " WHERE id = " + std::to_string(id(random)));
          std::this_thread::sleep_for(1ms);
        }
        db->execute("COMMIT");
        ++commits_;
      } catch (const std::exception& error) {
        if (errors_++ == 0) {
          std::lock_guard<std::mutex> lock(mutex_);
          first_error_ = error.what();
        }
        try {
          db->execute("ROLLBACK");
        } catch (const std::exception&) {
          // The session is gone; the error is counted already.
        }
      }
    }
  }

  std::string table_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> errors_{0};
  std::atomic<int> commits_{0};
  std::mutex mutex_;
  std::string first_error_;
  std::vector<std::thread> threads_;
};

}  // namespace

void index_names_are_checked(const Scenario& scenario) {
  const bool postgres = is_postgres(scenario);
  const std::vector<std::string> names = {"ec-idx-a", "ec-idx-b", "ec-idx-c", "ec-idx-d"};
  std::unique_ptr<SqlSession> db = fresh_table(scenario, "ec_idx_a", names);
  fresh_table(scenario, "ec_idx_b", {});
  MigrationDir dir;
  add_index_file(dir, "1.ini", names[0], "ec_idx_a", "email");
  add_index_file(dir, "2.ini", names[1], "ec_idx_b", "email");
  const RunResult run = sluice(scenario, {"run", dir.path()});
  CHECK(phase_of(*db, scenario, names[0]) == "contracted");
  if (postgres) {
    // Index names are unique per schema: the second file cannot have its index, and says so.
    check_refused(run, 5, "is taken in schema \"public\" by another index");
    CHECK(phase_of(*db, scenario, names[1]) == "");
    CHECK(indexes_named(*db, scenario) == "ec_idx_a:true");
    // Its abort would leave the other table's index alone.
  } else {
    check_ok(run);
    CHECK(phase_of(*db, scenario, names[1]) == "contracted");
    CHECK(indexes_named(*db, scenario) == "ec_idx_a:email,ec_idx_b:email");
  }

  // An index of that name on the same table but other columns is not the migration's, and one
  // exactly like it was not made by it either (abort would drop it).
  MigrationDir other;
  const std::string on_note = add_index_file(other, "3.ini", names[2], "ec_idx_a", "note");
  check_refused(sluice(scenario, {"expand", on_note}), 5, "choose another index-name");
  CHECK(phase_of(*db, scenario, names[2]) == "");
  const std::string same = add_index_file(other, "4.ini", names[3], "ec_idx_a", "email");
  check_refused(sluice(scenario, {"expand", same}), 5, "already exists on");
  CHECK(phase_of(*db, scenario, names[3]) == "");

  if (postgres) {
    // A CREATE UNIQUE INDEX CONCURRENTLY that failed on duplicates leaves an INVALID index:
    // not done; expand drops it and builds it again once the duplicates are gone.
    db->execute("DROP INDEX by_customer");
    db->execute("UPDATE ec_idx_a SET note = 'same'");
    CHECK_THROWS(db->execute("CREATE UNIQUE INDEX CONCURRENTLY by_customer ON ec_idx_a (note)"));
    CHECK(indexes_named(*db, scenario) == "ec_idx_a:false");
    const std::string unique_note =
        add_index_file(other, "5.ini", names[2], "ec_idx_a", "note", true);
    db->execute("UPDATE ec_idx_a SET note = 'n' || id");
    const RunResult expanded = sluice(scenario, {"expand", unique_note});
    check_ok(expanded);
    CHECK(expanded.err.find("dropping the INVALID index") != std::string::npos);
    CHECK(indexes_named(*db, scenario) == "ec_idx_a:true");
    CHECK(db->value("SELECT indisunique FROM pg_index WHERE indexrelid = "
                    "'public.by_customer'::regclass") == "t");
    check_ok(sluice(scenario, {"abort", names[2]}));
    CHECK(indexes_named(*db, scenario) == "");
  }
}

void replaced_objects_are_refused(const Scenario& scenario) {
  const std::string table = "ec_replaced";
  const std::string name = "ec-replaced-mail";
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  MigrationDir dir;
  const std::string file = dir.write("rename.ini", "name = " + name + "\ntable = " + table +
                                                       "\noperation = rename-column\n"
                                                       "column = email\nnew-column = mail\n");
  check_ok(sluice(scenario, {"expand", file}));
  // Re-running expand finds its column as it added it: already done.
  const RunResult again = sluice(scenario, {"expand", file});
  check_ok(again);
  CHECK(again.err.find("already done") != std::string::npos);
  // Another change replaced the column with one of another type: its name is not the
  // migration's column, and a re-run says so instead of calling it done.
  db->execute("ALTER TABLE " + table + " DROP COLUMN mail");
  db->execute("ALTER TABLE " + table + " ADD COLUMN mail INT");
  check_refused(sluice(scenario, {"expand", file}), 5, "another change replaced it");
  check_refused(sluice(scenario, {"backfill", name}), 5, "another change replaced it");
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE mail IS NOT NULL") == "0");

  if (is_postgres(scenario)) {
    // On PostgreSQL an index name is taken by any relation of the schema, a table too.
    db->execute("DROP TABLE IF EXISTS by_customer");
    db->execute("CREATE TABLE by_customer (id INT)");
    MigrationDir other;
    const std::string index = add_index_file(other, "i.ini", "ec-replaced-idx", table, "email");
    db->execute("DELETE FROM " + scenario.migrations + " WHERE name = 'ec-replaced-idx'");
    check_refused(sluice(scenario, {"expand", index}), 5, "(not an index)");
    CHECK(phase_of(*db, scenario, "ec-replaced-idx") == "");
    db->execute("DROP TABLE by_customer");
  }
}

void backfill_yields_to_the_application(const Scenario& scenario) {
  const bool postgres = is_postgres(scenario);
  const std::string table = "ec_yield";
  const std::string name = "ec-yield-email";
  constexpr int kRows = 30000;
  std::unique_ptr<SqlSession> db = fresh_table(scenario, table, {name});
  db->execute("DELETE FROM " + table);
  db->execute(postgres ? "INSERT INTO ec_yield (id, email) SELECT i, 'user-' || i FROM "
                         "generate_series(1, 30000) AS i"
                       : "INSERT INTO ec_yield (id, email) SELECT seq, CONCAT('user-', seq) FROM "
                         "seq_1_to_30000");
  MigrationDir dir;
  const std::string file = dir.write("yield.ini", "name = " + name + "\ntable = " + table +
                                                      "\noperation = rename-column\n"
                                                      "column = email\nnew-column = mail\n");
  check_ok(sluice(scenario, {"expand", file}));

  {
    // The dual-writing release, in multi-row transactions that take their rows in random order,
    // runs through the whole backfill; big batches make every batch meet its locks.
    RandomOrderWriter app(scenario, table, kRows, 4);
    std::this_thread::sleep_for(300ms);
    check_ok(sluice(scenario, {"backfill", name, "--chunk-size", "5000"}));
    std::this_thread::sleep_for(300ms);
    app.stop();
    INFO("first application error: " << app.first_error());
    CHECK(app.errors() == 0);
    CHECK(app.commits() > 20);
  }
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE mail IS NULL") == "0");
  check_ok(sluice(scenario, {"verify", name}));

  // A row the application keeps locked through every pass is left alone, never waited for:
  // the backfill says so and keeps its place; once the transaction ends, a re-run fills it.
  db->execute("UPDATE " + table + " SET mail = NULL WHERE id IN (7, 20000)");
  std::unique_ptr<SqlSession> holder = open_session(parse_dsn(scenario.dsn));
  holder->execute("BEGIN");
  holder->query("SELECT id FROM " + table + " WHERE id = 20000 FOR UPDATE");
  check_refused(sluice(scenario, {"backfill", name}), 5, "1 rows of");
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE mail IS NULL") == "1");
  holder->execute("COMMIT");
  check_ok(sluice(scenario, {"backfill", name}));
  CHECK(db->value("SELECT COUNT(*) FROM " + table + " WHERE mail IS NULL") == "0");
  check_ok(sluice(scenario, {"abort", name}));
}

}  // namespace sluice::test

#include "integration/table_writer.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "src/reconnect.h"

namespace sluice::test {
namespace {

const char* const kNames[] = {
    "alice", "Bj\xc3\xb6rk",    "\xe6\x97\xa5\xe6\x9c\xac", "emoji \xf0\x9f\x98\x80",
    "",      "O'Brien \\ \"q\""};

std::string sql_string(mysql::Connection& db, const std::string& text) {
  return db.quote_literal(text);
}

}  // namespace

void create_typed_table(mysql::Connection& db, const std::string& table, const std::string& twin,
                        int rows, bool composite) {
  for (const std::string& name : {table, twin, table + "_sluice_new", "_" + table + "_old"}) {
    db.execute("DROP TABLE IF EXISTS `" + name + "`");
  }
  const std::string key =
      composite ? "a INT NOT NULL, id BIGINT NOT NULL, " : "id BIGINT NOT NULL PRIMARY KEY, ";
  db.execute("CREATE TABLE `" + table + "` (" + key +
             "code INT NULL UNIQUE, name VARCHAR(50) CHARACTER SET utf8mb4 NULL, "
             "amount DECIMAL(12,3) NULL, created DATETIME(3) NULL, ts TIMESTAMP(6) NULL, "
             "doc JSON NULL, kind ENUM('a','b','c') NULL, tags SET('x','y','z') NULL, "
             "flags BIT(5) NULL, data BLOB NULL, k INT NOT NULL DEFAULT 0, "
             "doubled INT AS (k * 2) VIRTUAL, legacy INT NULL" +
             std::string(composite ? ", PRIMARY KEY (a, id), KEY (id)" : "") + ") ENGINE=InnoDB");
  db.execute("CREATE TABLE `" + twin + "` LIKE `" + table + "`");
  if (rows > 0) {
    const std::string insert =
        std::string("INSERT INTO `") + table + "` (" + (composite ? "a, " : "") +
        "id, code, name, amount, created, ts, doc, kind, tags, flags, data, k) SELECT " +
        (composite ? "seq % 7, " : "") +
        "seq, IF(seq % 5 = 0, NULL, seq), IF(seq % 9 = 0, NULL, CONCAT('row ', seq, ' "
        "\xc3\xa4')), (seq % 2000) / 7 - 100, '2024-01-01 00:00:00.123' + INTERVAL seq MINUTE, "
        "IF(seq % 4 = 0, NULL, FROM_UNIXTIME(1700000000 + seq) + INTERVAL 0.5 SECOND), "
        "IF(seq % 6 = 0, NULL, JSON_OBJECT('n', seq, 's', 'x')), ELT(1 + seq % 3, 'a', 'b', "
        "'c'), IF(seq % 2 = 0, 'x,z', ''), seq % 32, IF(seq % 3 = 0, NULL, UNHEX(HEX(seq))), "
        "seq % 100 FROM seq_1_to_" +
        std::to_string(rows);
    db.execute(insert);
    const std::string columns = std::string(composite ? "a, " : "") +
                                "id, code, name, amount, created, ts, doc, kind, tags, flags, "
                                "data, k";
    db.execute("INSERT INTO `" + twin + "` (" + columns + ") SELECT " + columns + " FROM `" +
               table + "`");
  }
}

std::vector<std::vector<std::optional<std::string>>> table_rows(mysql::Connection& db,
                                                                const std::string& table,
                                                                const std::string& other) {
  std::vector<ResultRow> columns = db.query(
      "SELECT c.COLUMN_NAME, c.DATA_TYPE FROM information_schema.COLUMNS c JOIN "
      "information_schema.COLUMNS o ON o.TABLE_SCHEMA = c.TABLE_SCHEMA AND o.TABLE_NAME = " +
      db.quote_literal(other) +
      " AND o.COLUMN_NAME = c.COLUMN_NAME WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = " +
      db.quote_literal(table) + " ORDER BY c.ORDINAL_POSITION");
  std::string select;
  for (const ResultRow& column : columns) {
    const std::string name = "`" + *column[0] + "`";
    const std::string& type = *column[1];
    const bool binary = type == "blob" || type == "bit" || type == "binary" || type == "varbinary";
    select += (select.empty() ? "" : ", ") + (binary ? "HEX(" + name + ")" : name);
  }
  return db.query("SELECT " + select + " FROM `" + table + "` ORDER BY id");
}

TableWriter::TableWriter(const Dsn& dsn, std::string table, std::string twin)
    : dsn_(dsn), table_(std::move(table)), twin_(std::move(twin)) {}

TableWriter::~TableWriter() {
  if (thread_.joinable()) {
    stopping_ = true;
    thread_.join();
  }
}

void TableWriter::start() {
  connection_ = std::make_unique<mysql::Connection>(dsn_, std::nullopt);
  for (const ResultRow& row : connection_->query("SELECT id FROM `" + table_ + "`")) {
    ids_.push_back(std::stoll(*row[0]));
  }
  composite_ = !connection_->query("SHOW COLUMNS FROM `" + table_ + "` LIKE 'a'").empty();
  next_id_ = 10'000'000;
  next_code_ = 10'000'000;
  thread_ = std::thread([this] { run(); });
}

void TableWriter::stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  if (!error_.empty()) {
    throw std::runtime_error("the writer failed: " + error_);
  }
}

void TableWriter::run() {
  try {
    while (!stopping_) {
      const std::vector<std::int64_t> ids = ids_;
      const std::int64_t next_id = next_id_;
      const std::int64_t next_code = next_code_;
      try {
        one_transaction();
        ++transactions_;
      } catch (const ConnectionLost&) {
        // The server restarted or killed the session: the transaction rolled back, or (lost
        // during COMMIT) committed to both tables alike. Known ids go back to before it (an id
        // that is gone after all only makes later statements touch no row, in both tables);
        // new ids and codes stay used, so none is inserted twice.
        ids_ = ids;
        reconnect();
      } catch (const ServerError& error) {
        // A transaction that read the table and then writes to it while the cut-over takes its
        // lock is chosen as a metadata-lock deadlock victim (as with any table swap); an
        // application retries it, and so does this one. Any other error fails the test.
        if (error.kind() != ServerErrorKind::deadlock) {
          throw;
        }
        connection_->execute("ROLLBACK");
        ids_ = ids;
        next_id_ = next_id;
        next_code_ = next_code;
        ++deadlocks_;
      }
    }
  } catch (const std::exception& error) {
    error_ = error.what();
  }
}

void TableWriter::reconnect() {
  for (int attempt = 1;; ++attempt) {
    try {
      connection_ = std::make_unique<mysql::Connection>(dsn_, std::nullopt);
      ++reconnects_;
      return;
    } catch (const Error& error) {
      if (error.code() != ExitCode::connection || attempt == 600) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

std::string TableWriter::random_row_values(std::int64_t id) {
  std::uniform_int_distribution<int> pick(0, 99);
  auto maybe = [&](const std::string& value) { return pick(random_) < 15 ? "NULL" : value; };
  const std::string name = kNames[pick(random_) % 6];
  return std::to_string(id) + ", " + maybe(std::to_string(next_code_++)) + ", " +
         maybe(sql_string(*connection_, name)) + ", " +
         maybe(std::to_string(pick(random_) - 50) + "." + std::to_string(pick(random_))) + ", " +
         maybe("'2025-06-0" + std::to_string(1 + pick(random_) % 9) + " 10:11:12.345'") + ", " +
         maybe("'2025-01-01 00:00:00.654321'") + ", " +
         maybe("'{\"v\": " + std::to_string(pick(random_)) + "}'") + ", " + maybe("'b'") + ", " +
         maybe("'y'") + ", " + maybe("b'10101'") + ", " + maybe("X'00FF10'") + ", " +
         std::to_string(pick(random_));
}

std::int64_t TableWriter::random_existing_id() {
  std::uniform_int_distribution<std::size_t> pick(0, ids_.size() - 1);
  return ids_[pick(random_)];
}

void TableWriter::both(const std::string& statement_for_table) {
  connection_->execute(statement_for_table);
  std::string twin_statement = statement_for_table;
  const std::string quoted = "`" + table_ + "`";
  twin_statement.replace(twin_statement.find(quoted), quoted.size(), "`" + twin_ + "`");
  connection_->execute(twin_statement);
}

void TableWriter::one_transaction() {
  std::uniform_int_distribution<int> pick(0, 99);
  const bool composite = composite_;
  const std::string t = "`" + table_ + "`";
  connection_->execute("START TRANSACTION");
  const int statements = 1 + pick(random_) % 3;
  for (int s = 0; s < statements; ++s) {
    const int action = ids_.size() < 10 ? 0 : pick(random_);
    if (action < 35) {
      const std::int64_t id = next_id_++;
      both("INSERT INTO " + t + " (" + (composite ? "a, " : "") +
           "id, code, name, amount, created, ts, doc, kind, tags, flags, data, k) VALUES (" +
           (composite ? std::to_string(id % 7) + ", " : "") + random_row_values(id) + ")");
      ids_.push_back(id);
    } else if (action < 65) {
      const std::int64_t id = random_existing_id();
      both("UPDATE " + t + " SET name = " + sql_string(*connection_, kNames[pick(random_) % 6]) +
           ", amount = amount + 1, k = k + 1, doc = JSON_OBJECT('u', " +
           std::to_string(pick(random_)) + "), ts = NULL WHERE id = " + std::to_string(id));
    } else if (action < 75) {
      const std::int64_t id = random_existing_id();
      const std::int64_t moved = next_id_++;
      both("UPDATE " + t + " SET id = " + std::to_string(moved) +
           (composite ? ", a = " + std::to_string(moved % 7) : "") +
           " WHERE id = " + std::to_string(id));
      std::replace(ids_.begin(), ids_.end(), id, moved);
    } else if (action < 90) {
      const std::int64_t id = random_existing_id();
      both("DELETE FROM " + t + " WHERE id = " + std::to_string(id));
      ids_.erase(std::find(ids_.begin(), ids_.end(), id));
    } else {
      // Two rows swap their unique codes inside one transaction.
      const std::int64_t first = random_existing_id();
      const std::int64_t second = random_existing_id();
      if (first == second) {
        continue;
      }
      const std::string a = std::to_string(first);
      const std::string b = std::to_string(second);
      auto code_of = [&](const std::string& id) {
        std::optional<std::string> code =
            connection_->query_value("SELECT code FROM " + t + " WHERE id = " + id);
        return code ? *code : std::string("NULL");
      };
      const std::string code_a = code_of(a);
      const std::string code_b = code_of(b);
      both("UPDATE " + t + " SET code = NULL WHERE id = " + a);
      both("UPDATE " + t + " SET code = " + code_a + " WHERE id = " + b);
      both("UPDATE " + t + " SET code = " + code_b + " WHERE id = " + a);
    }
  }
  connection_->execute("COMMIT");
}

}  // namespace sluice::test

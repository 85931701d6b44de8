#include "integration/pg_table_writer.h"

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

std::string literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c == '\'' ? "''" : std::string(1, c);
  }
  return out + "'";
}

}  // namespace

void create_pg_table(postgres::Connection& db, const std::string& table, const std::string& twin,
                     int rows, bool composite) {
  for (const std::string& name : {table, twin, "_" + table + "_new", "_" + table + "_old"}) {
    db.execute("DROP TABLE IF EXISTS \"" + name + "\" CASCADE");
  }
  const std::string key =
      composite ? "a integer NOT NULL, id integer NOT NULL, " : "id integer NOT NULL PRIMARY KEY, ";
  for (const std::string& name : {table, twin}) {
    db.execute(
        "CREATE TABLE \"" + name + "\" (" + key +
        "code integer UNIQUE, name varchar(50), amount numeric(12,3), created "
        "timestamp(3), ts timestamptz, doc text, data bytea, big text, k integer NOT NULL "
        "DEFAULT 0, doubled bigint GENERATED ALWAYS AS (code::bigint * 2) STORED, legacy integer" +
        std::string(composite ? ", PRIMARY KEY (a, id)" : "") + ")");
    db.execute("CREATE INDEX \"" + name + "_k\" ON \"" + name + "\" (k)");
  }
  if (rows > 0) {
    const std::string columns = std::string(composite ? "a, " : "") +
                                "id, code, name, amount, created, ts, doc, data, big, k";
    db.execute("INSERT INTO \"" + table + "\" (" + columns + ") SELECT " +
               (composite ? "g % 7, " : "") +
               "g, CASE WHEN g % 5 = 0 THEN NULL ELSE g END, CASE WHEN g % 9 = 0 THEN NULL ELSE "
               "'row ' || g || ' \xc3\xa4' END, (g % 2000) / 7.0 - 100, timestamp '2024-01-01 "
               "00:00:00.123' + g * interval '1 minute', CASE WHEN g % 4 = 0 THEN NULL ELSE "
               "to_timestamp(1700000000 + g) END, CASE WHEN g % 6 = 0 THEN NULL ELSE '{\"n\": ' "
               "|| g || '}' END, CASE WHEN g % 3 = 0 THEN NULL ELSE int4send(g) END, CASE WHEN "
               "g % 40 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM "
               "generate_series(1, 250) i) END, g % 100 FROM generate_series(1, " +
               std::to_string(rows) + ") g");
    db.execute("INSERT INTO \"" + twin + "\" (" + columns + ") SELECT " + columns + " FROM \"" +
               table + "\"");
    db.execute("ANALYZE \"" + table + "\"");
  }
}

std::vector<std::vector<std::optional<std::string>>> pg_table_rows(postgres::Connection& db,
                                                                   const std::string& table,
                                                                   const std::string& other,
                                                                   const std::string& types_from) {
  const std::vector<ResultRow> columns = db.query(
      "SELECT quote_ident(c.attname), format_type(m.atttypid, m.atttypmod) FROM pg_attribute c "
      "JOIN pg_attribute o ON o.attrelid = $2::regclass AND o.attname = c.attname AND NOT "
      "o.attisdropped JOIN pg_attribute m ON m.attrelid = $3::regclass AND m.attname = c.attname "
      "AND NOT m.attisdropped WHERE c.attrelid = $1::regclass AND c.attnum > 0 AND NOT "
      "c.attisdropped ORDER BY c.attnum",
      {table, other, types_from});
  std::string select;
  for (const ResultRow& column : columns) {
    select += (select.empty() ? "" : ", ") + *column[0] + "::" + *column[1] + "::text";
  }
  return db.query("SELECT " + select + " FROM \"" + table + "\" ORDER BY id");
}

PgTableWriter::PgTableWriter(const Dsn& dsn, std::string table, std::string twin)
    : dsn_(dsn), table_(std::move(table)), twin_(std::move(twin)) {}

PgTableWriter::~PgTableWriter() {
  if (thread_.joinable()) {
    stopping_ = true;
    thread_.join();
  }
}

void PgTableWriter::start() {
  connection_ = std::make_unique<postgres::Connection>(dsn_, std::nullopt);
  for (const ResultRow& row : connection_->query("SELECT id FROM \"" + table_ + "\"")) {
    ids_.push_back(std::stoll(*row[0]));
  }
  composite_ = connection_
                   ->query_value(
                       "SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND "
                       "attname = 'a'",
                       {"\"" + table_ + "\""})
                   .has_value();
  next_id_ = 10'000'000;
  next_code_ = 10'000'000;
  thread_ = std::thread([this] { run(); });
}

void PgTableWriter::stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  if (!error_.empty()) {
    throw std::runtime_error("the writer failed: " + error_);
  }
}

void PgTableWriter::run() {
  try {
    while (!stopping_) {
      const std::vector<std::int64_t> ids = ids_;
      try {
        one_transaction();
      } catch (const ConnectionLost&) {
        // The server restarted or terminated the session: the transaction rolled back, or (lost
        // during COMMIT) committed to both tables alike. Known ids go back to before it (an id
        // that is gone after all only makes later statements touch no row, in both tables);
        // new ids and codes stay used, so none is inserted twice.
        ids_ = ids;
        reconnect();
      }
    }
  } catch (const std::exception& error) {
    error_ = error.what();
  }
}

void PgTableWriter::reconnect() {
  for (int attempt = 1;; ++attempt) {
    try {
      connection_ = std::make_unique<postgres::Connection>(dsn_, std::nullopt);
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

std::string PgTableWriter::random_big() {
  // Random letters compress too poorly to stay inline: the value is TOASTed out of line.
  std::uniform_int_distribution<int> letter(0, 25);
  std::string big(6000, 'a');
  for (char& c : big) {
    c = static_cast<char>('a' + letter(random_));
  }
  return "'" + big + "'";
}

std::string PgTableWriter::random_row_values(std::int64_t id) {
  std::uniform_int_distribution<int> pick(0, 99);
  auto maybe = [&](const std::string& value) { return pick(random_) < 15 ? "NULL" : value; };
  const std::string name = kNames[pick(random_) % 6];
  return std::to_string(id) + ", " + maybe(std::to_string(next_code_++)) + ", " +
         maybe(literal(name)) + ", " +
         maybe(std::to_string(pick(random_) - 50) + "." + std::to_string(pick(random_))) + ", " +
         maybe("'2025-06-0" + std::to_string(1 + pick(random_) % 9) + " 10:11:12.345'") + ", " +
         maybe("'2025-01-01 00:00:00.654321+02'") + ", " +
         maybe("'{\"v\": " + std::to_string(pick(random_)) + "}'") + ", " +
         maybe("'\\x00ff10'::bytea") + ", " + (pick(random_) < 20 ? random_big() : "NULL") + ", " +
         std::to_string(pick(random_));
}

std::int64_t PgTableWriter::random_existing_id() {
  std::uniform_int_distribution<std::size_t> pick(0, ids_.size() - 1);
  return ids_[pick(random_)];
}

void PgTableWriter::both(const std::string& statement_for_table) {
  connection_->execute(statement_for_table);
  std::string twin_statement = statement_for_table;
  const std::string quoted = "\"" + table_ + "\"";
  twin_statement.replace(twin_statement.find(quoted), quoted.size(), "\"" + twin_ + "\"");
  connection_->execute(twin_statement);
}

void PgTableWriter::one_transaction() {
  std::uniform_int_distribution<int> pick(0, 99);
  const std::vector<std::int64_t> ids_before = ids_;
  const std::string t = "\"" + table_ + "\"";
  connection_->execute("BEGIN");
  const int statements = 1 + pick(random_) % 3;
  for (int s = 0; s < statements; ++s) {
    const int action = ids_.size() < 10 ? 0 : pick(random_);
    if (action < 30) {
      const std::int64_t id = next_id_++;
      both("INSERT INTO " + t + " (" + (composite_ ? "a, " : "") +
           "id, code, name, amount, created, ts, doc, data, big, k) VALUES (" +
           (composite_ ? std::to_string(id % 7) + ", " : "") + random_row_values(id) + ")");
      ids_.push_back(id);
    } else if (action < 60) {
      // Most updates leave `big` alone: a TOASTed value then travels as "unchanged".
      const std::int64_t id = random_existing_id();
      both("UPDATE " + t + " SET name = " + literal(kNames[pick(random_) % 6]) +
           ", amount = amount + 1, k = k + 1, doc = '{\"u\": " + std::to_string(pick(random_)) +
           "}', ts = NULL" + (pick(random_) < 10 ? ", big = " + random_big() : "") +
           " WHERE id = " + std::to_string(id));
    } else if (action < 72) {
      const std::int64_t id = random_existing_id();
      const std::int64_t moved = next_id_++;
      both("UPDATE " + t + " SET id = " + std::to_string(moved) +
           (composite_ ? ", a = " + std::to_string(moved % 7) : "") +
           " WHERE id = " + std::to_string(id));
      std::replace(ids_.begin(), ids_.end(), id, moved);
    } else if (action < 87) {
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
        return connection_->query_value("SELECT code FROM " + t + " WHERE id = " + id)
            .value_or("NULL");
      };
      const std::string code_a = code_of(a);
      const std::string code_b = code_of(b);
      both("UPDATE " + t + " SET code = NULL WHERE id = " + a);
      both("UPDATE " + t + " SET code = " + code_a + " WHERE id = " + b);
      both("UPDATE " + t + " SET code = " + code_b + " WHERE id = " + a);
    }
  }
  if (pick(random_) < 10) {
    connection_->execute("ROLLBACK");
    ids_ = ids_before;
    ++rollbacks_;
    return;
  }
  connection_->execute("COMMIT");
  ++transactions_;
}

}  // namespace sluice::test

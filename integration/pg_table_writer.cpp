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

std::string substitute(const std::string& pattern, const std::string& number) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = pattern.find("{}"); at != std::string::npos;
       from = at + 2, at = pattern.find("{}", from)) {
    out += pattern.substr(from, at - from) + "(" + number + ")";
  }
  return out + pattern.substr(from);
}

}  // namespace

std::string PgKeySpec::id_of(std::int64_t n) const {
  return substitute(value, std::to_string(n));
}

std::string PgKeySpec::a_of(std::int64_t n) const {
  return substitute(a_value, std::to_string(n));
}

void create_pg_table(postgres::Connection& db, const std::string& table, const std::string& twin,
                     int rows, bool composite) {
  PgKeySpec key;
  if (composite) {
    key.a_type = "integer";
    key.a_value = "{} % 7";
  }
  create_pg_table(db, table, twin, rows, key);
}

void create_pg_table(postgres::Connection& db, const std::string& table, const std::string& twin,
                     int rows, const PgKeySpec& key, bool sparse) {
  for (const std::string& name : {table, twin, "_" + table + "_new", "_" + table + "_old"}) {
    db.execute("DROP TABLE IF EXISTS \"" + name + "\" CASCADE");
  }
  const bool composite = !key.a_type.empty();
  const std::string key_columns = std::string(composite ? "a, " : "") + "id";
  std::string columns_sql = (composite ? "a " + key.a_type + " NOT NULL, " : "") + "id " +
                            key.type + " NOT NULL, " +
                            (key.numbered() ? "n bigint NOT NULL, " : "");
  for (const std::string& name : {table, twin}) {
    db.execute(
        "CREATE TABLE \"" + name + "\" (" + columns_sql +
        "code integer UNIQUE, name varchar(50), amount numeric(12,3), created "
        "timestamp(3), ts timestamptz, doc text, data bytea, big text, k integer NOT NULL "
        "DEFAULT 0, doubled bigint GENERATED ALWAYS AS (code::bigint * 2) STORED, legacy integer" +
        (key.unique_index ? std::string() : ", PRIMARY KEY (" + key_columns + ")") + ")");
    if (key.unique_index) {
      db.execute("CREATE UNIQUE INDEX \"" + name + "_key\" ON \"" + name + "\" (" + key_columns +
                 "); ALTER TABLE \"" + name + "\" REPLICA IDENTITY USING INDEX \"" + name +
                 "_key\"");
    }
    db.execute("CREATE INDEX \"" + name + "_k\" ON \"" + name + "\" (k)");
    // Built after the copy like the others: a partial unique index, a partial one, a CHECK.
    db.execute("CREATE UNIQUE INDEX \"" + name + "_pu\" ON \"" + name + "\" (" + key_columns +
               ") WHERE k >= 50; CREATE INDEX \"" + name + "_pa\" ON \"" + name +
               "\" (amount) WHERE amount > 0; ALTER TABLE \"" + name +
               "\" ADD CONSTRAINT k_range CHECK (k >= 0)");
  }
  const std::string columns = key_columns + (key.numbered() ? ", n" : "") +
                              ", code, name, amount, created, ts, doc, data, big, k";
  // g is a row's number; v, its value below 10^9, feeds the other columns, so that numbers near
  // 2^62 fit them.
  const std::string values =
      (composite ? substitute(key.a_value, "g") + ", " : "") + substitute(key.value, "g") + ", " +
      (key.numbered() ? "g, " : "") +
      "CASE WHEN v % 5 = 0 THEN NULL ELSE v END, CASE WHEN v % 9 = 0 THEN NULL ELSE "
      "'row ' || v || ' \xc3\xa4' END, (v % 2000) / 7.0 - 100, timestamp '2024-01-01 "
      "00:00:00.123' + v * interval '1 minute', CASE WHEN v % 4 = 0 THEN NULL ELSE "
      "to_timestamp(1700000000 + v) END, CASE WHEN v % 6 = 0 THEN NULL ELSE '{\"n\": ' "
      "|| v || '}' END, CASE WHEN v % 3 = 0 THEN NULL ELSE int4send(v::int) END, CASE WHEN "
      "v % 40 = 0 THEN (SELECT string_agg(md5(v::text || i::text), '') FROM "
      "generate_series(1, 250) i) END, v % 100";
  std::string numbers =
      "SELECT g::bigint AS g FROM generate_series(1, " + std::to_string(rows) + ") g";
  if (sparse) {
    numbers += " UNION ALL SELECT 4611686018427387904 + i * 1000003 FROM generate_series(0, 4) i";
  }
  if (rows > 0 || sparse) {
    db.execute("INSERT INTO \"" + table + "\" (" + columns + ") SELECT " + values +
               " FROM (SELECT g, g % 1000000000 AS v FROM (" + numbers + ") n) r");
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

PgTableWriter::PgTableWriter(const Dsn& dsn, std::string table, std::string twin, PgKeySpec key)
    : dsn_(dsn), table_(std::move(table)), twin_(std::move(twin)), key_(std::move(key)) {}

PgTableWriter::~PgTableWriter() {
  if (thread_.joinable()) {
    stopping_ = true;
    thread_.join();
  }
}

void PgTableWriter::start() {
  connection_ = std::make_unique<postgres::Connection>(dsn_, std::nullopt);
  for (const ResultRow& row : connection_->query(
           std::string("SELECT ") + (key_.numbered() ? "n" : "id") + " FROM \"" + table_ + "\"")) {
    ids_.push_back(std::stoll(*row[0]));
  }
  const bool has_a = connection_
                         ->query_value(
                             "SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND "
                             "attname = 'a'",
                             {"\"" + table_ + "\""})
                         .has_value();
  if (has_a && key_.a_type.empty()) {
    key_.a_type = "integer";
    key_.a_value = "{} % 7";
  }
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
        // Whether the lost transaction's deletes committed is unknown: none is reused.
        deleted_.clear();
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

std::string PgTableWriter::insert_row(std::int64_t id) {
  const bool composite = !key_.a_type.empty();
  return "INSERT INTO \"" + table_ + "\" (" + (composite ? "a, " : "") + "id, " +
         (key_.numbered() ? "n, " : "") + "code, name, amount, created, ts, doc, data, big, k) " +
         "VALUES (" + (composite ? key_.a_of(id) + ", " : "") + key_.id_of(id) + ", " +
         (key_.numbered() ? std::to_string(id) + ", " : "") + random_row_values() + ")";
}

std::string PgTableWriter::random_row_values() {
  std::uniform_int_distribution<int> pick(0, 99);
  auto maybe = [&](const std::string& value) { return pick(random_) < 15 ? "NULL" : value; };
  const std::string name = kNames[pick(random_) % 6];
  return maybe(std::to_string(next_code_++)) + ", " + maybe(literal(name)) + ", " +
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
  const std::vector<std::int64_t> deleted_before = deleted_;
  std::vector<std::int64_t> deleted_now;
  const std::string t = "\"" + table_ + "\"";
  auto where = [&](std::int64_t id) { return " WHERE id = " + key_.id_of(id); };
  connection_->execute("BEGIN");
  const int statements = 1 + pick(random_) % 3;
  for (int s = 0; s < statements; ++s) {
    const int action = ids_.size() < 10 ? 0 : pick(random_);
    if (action < 30) {
      // Now and then a key deleted earlier comes back.
      std::int64_t id = next_id_;
      if (!deleted_.empty() && pick(random_) < 30) {
        id = deleted_.back();
        deleted_.pop_back();
      } else {
        ++next_id_;
      }
      both(insert_row(id));
      ids_.push_back(id);
    } else if (action < 60) {
      // Most updates leave `big` alone: a TOASTed value then travels as "unchanged".
      const std::int64_t id = random_existing_id();
      both("UPDATE " + t + " SET name = " + literal(kNames[pick(random_) % 6]) +
           ", amount = amount + 1, k = k + 1, doc = '{\"u\": " + std::to_string(pick(random_)) +
           "}', ts = NULL" + (pick(random_) < 10 ? ", big = " + random_big() : "") + where(id));
    } else if (action < 72) {
      const std::int64_t id = random_existing_id();
      const std::int64_t moved = next_id_++;
      both("UPDATE " + t + " SET id = " + key_.id_of(moved) +
           (key_.a_type.empty() ? "" : ", a = " + key_.a_of(moved)) +
           (key_.numbered() ? ", n = " + std::to_string(moved) : "") + where(id));
      std::replace(ids_.begin(), ids_.end(), id, moved);
    } else if (action < 87) {
      const std::int64_t id = random_existing_id();
      both("DELETE FROM " + t + where(id));
      if (pick(random_) < 30) {
        // Deleted and inserted again with the same key in one transaction.
        both(insert_row(id));
        continue;
      }
      ids_.erase(std::find(ids_.begin(), ids_.end(), id));
      deleted_now.push_back(id);
    } else {
      // Two rows swap their unique codes inside one transaction.
      const std::int64_t first = random_existing_id();
      const std::int64_t second = random_existing_id();
      if (first == second) {
        continue;
      }
      auto code_of = [&](std::int64_t id) {
        return connection_->query_value("SELECT code FROM " + t + where(id)).value_or("NULL");
      };
      const std::string code_a = code_of(first);
      const std::string code_b = code_of(second);
      both("UPDATE " + t + " SET code = NULL" + where(first));
      both("UPDATE " + t + " SET code = " + code_a + where(second));
      both("UPDATE " + t + " SET code = " + code_b + where(first));
    }
  }
  if (pick(random_) < 10) {
    connection_->execute("ROLLBACK");
    ids_ = ids_before;
    deleted_ = deleted_before;
    ++rollbacks_;
    return;
  }
  connection_->execute("COMMIT");
  deleted_.insert(deleted_.end(), deleted_now.begin(), deleted_now.end());
  ++transactions_;
}

std::string pg_table_shape(postgres::Connection& db, const std::string& table) {
  return db
      .query_value(
          "SELECT c.relreplident::text || ' | ' || coalesce((SELECT string_agg(d, '; ' ORDER BY d) "
          "FROM (SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^(CREATE (UNIQUE )?"
          "INDEX) \\S+ ON \\S+ ', '\\1 ON t ') || CASE WHEN i.indisreplident THEN ' "
          "(identity)' ELSE '' END AS d FROM pg_index i WHERE i.indrelid = c.oid) x), '') || ' | "
          "' || coalesce((SELECT string_agg(d, '; ' ORDER BY d) FROM (SELECT k.contype::text || ' "
          "' || "
          "pg_get_constraintdef(k.oid) AS d FROM pg_constraint k WHERE k.conrelid = c.oid) y), "
          "'') FROM pg_class c WHERE c.oid = $1::regclass",
          {"\"" + table + "\""})
      .value_or("");
}

}  // namespace sluice::test

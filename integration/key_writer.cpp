#include "integration/key_writer.h"

#include <algorithm>
#include <stdexcept>

namespace sluice::test {
namespace {

std::string joined(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const std::string& part : parts) {
    out += (out.empty() ? "" : separator) + part;
  }
  return out;
}

std::string quoted(const std::string& name) {
  return "`" + name + "`";
}

}  // namespace

void create_keyed_table(mysql::Connection& db, const std::string& table, const std::string& twin,
                        const KeyKind& kind, int rows) {
  for (const std::string& name : {table, twin, table + "_sluice_new", "_" + table + "_old"}) {
    db.execute("DROP TABLE IF EXISTS " + quoted(name));
  }
  db.execute("CREATE TABLE " + quoted(table) + " (" + kind.columns +
             ", v INT NOT NULL, code INT NULL UNIQUE, note VARCHAR(20) NULL, " + kind.key +
             ") ENGINE=InnoDB");
  db.execute("CREATE TABLE " + quoted(twin) + " LIKE " + quoted(table));
  if (rows == 0) {
    return;
  }
  const std::string columns = joined(kind.key_columns, ", ") + ", v, code, note";
  db.execute("INSERT INTO " + quoted(table) + " (" + columns + ") SELECT " +
             joined(kind.values("seq", "seq % " + std::to_string(kind.spellings)), ", ") +
             ", seq % 100, IF(seq % 5 = 0, NULL, seq), CONCAT('r', seq) FROM seq_1_to_" +
             std::to_string(rows));
  db.execute("INSERT INTO " + quoted(twin) + " (" + columns + ") SELECT " + columns + " FROM " +
             quoted(table));
}

Rows keyed_rows(mysql::Connection& db, const std::string& table, const KeyKind& kind) {
  std::vector<std::string> key;
  for (const std::string& column : kind.key_columns) {
    key.push_back("HEX(" + quoted(column) + ")");
  }
  const std::string order = joined(key, ", ");
  // `v` may have been retyped by the migration: compared as a number.
  return db.query("SELECT " + order + ", CAST(v AS SIGNED), code, note FROM " + quoted(table) +
                  " ORDER BY " + order);
}

KeyWriter::KeyWriter(const Dsn& dsn, std::string table, std::string twin, KeyKind kind)
    : dsn_(dsn), table_(std::move(table)), twin_(std::move(twin)), kind_(std::move(kind)) {}

KeyWriter::~KeyWriter() {
  if (thread_.joinable()) {
    stopping_ = true;
    thread_.join();
  }
}

void KeyWriter::start(int rows) {
  for (std::int64_t n = 1; n <= rows; ++n) {
    live_[n] = static_cast<int>(n % kind_.spellings);
  }
  connection_ = std::make_unique<mysql::Connection>(dsn_, std::nullopt);
  thread_ = std::thread([this] { run(); });
}

void KeyWriter::stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  if (!error_.empty()) {
    throw std::runtime_error("the key writer failed: " + error_);
  }
}

void KeyWriter::run() {
  try {
    while (!stopping_) {
      const std::map<std::int64_t, int> live = live_;
      const std::int64_t next = next_;
      const std::int64_t next_code = next_code_;
      try {
        one_transaction();
        ++transactions_;
      } catch (const ServerError& error) {
        // The cut-over's swap may make a transaction a metadata-lock deadlock victim, as any
        // table swap does; an application retries it.
        if (error.kind() != ServerErrorKind::deadlock) {
          throw;
        }
        connection_->execute("ROLLBACK");
        live_ = live;
        next_ = next;
        next_code_ = next_code;
      }
    }
  } catch (const std::exception& error) {
    error_ = error.what();
  }
}

std::string KeyWriter::where(std::int64_t n, int spelling) const {
  std::vector<std::string> columns;
  for (const std::string& column : kind_.key_columns) {
    columns.push_back(quoted(column));
  }
  return "(" + joined(columns, ", ") + ") = (" +
         joined(kind_.values(std::to_string(n), std::to_string(spelling)), ", ") + ")";
}

std::string KeyWriter::assign(std::int64_t n, int spelling) const {
  const std::vector<std::string> values = kind_.values(std::to_string(n), std::to_string(spelling));
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < values.size(); ++i) {
    parts.push_back(quoted(kind_.key_columns[i]) + " = " + values[i]);
  }
  return joined(parts, ", ");
}

std::int64_t KeyWriter::random_existing() {
  std::uniform_int_distribution<std::size_t> pick(0, live_.size() - 1);
  return std::next(live_.begin(), static_cast<std::ptrdiff_t>(pick(random_)))->first;
}

void KeyWriter::both(const std::string& statement) {
  connection_->execute(statement);
  std::string twin_statement = statement;
  const std::string name = quoted(table_);
  twin_statement.replace(twin_statement.find(name), name.size(), quoted(twin_));
  connection_->execute(twin_statement);
}

void KeyWriter::one_transaction() {
  std::uniform_int_distribution<int> pick(0, 99);
  const std::string t = quoted(table_);
  auto any_spelling = [&] { return pick(random_) % kind_.spellings; };
  connection_->execute("START TRANSACTION");
  const int statements = 1 + pick(random_) % 3;
  for (int s = 0; s < statements; ++s) {
    const int action = live_.size() < 10 ? 0 : pick(random_);
    if (action < 30) {
      const std::int64_t n = next_++;
      const int spelling = any_spelling();
      both("INSERT INTO " + t + " (" + joined(kind_.key_columns, ", ") + ", v, code, note) " +
           "VALUES (" + joined(kind_.values(std::to_string(n), std::to_string(spelling)), ", ") +
           ", " + std::to_string(pick(random_)) + ", " + std::to_string(next_code_++) + ", 'new')");
      live_[n] = spelling;
    } else if (action < 55) {
      // Through any spelling of the key: the server finds the row by collation.
      const std::int64_t n = random_existing();
      both("UPDATE " + t + " SET v = v + 1, note = 'u" + std::to_string(pick(random_)) +
           "' WHERE " + where(n, any_spelling()));
    } else if (action < 70) {
      // The key changes to another spelling of itself (or to a new key where it has only one).
      const std::int64_t n = random_existing();
      if (kind_.spellings > 1) {
        const int spelling =
            (live_[n] + 1 + pick(random_) % (kind_.spellings - 1)) % kind_.spellings;
        both("UPDATE " + t + " SET " + assign(n, spelling) + " WHERE " + where(n, live_[n]));
        live_[n] = spelling;
      } else {
        const std::int64_t moved = next_++;
        both("UPDATE " + t + " SET " + assign(moved, 0) + " WHERE " + where(n, 0));
        live_.erase(n);
        live_[moved] = 0;
      }
    } else if (action < 78) {
      const std::int64_t n = random_existing();
      const std::int64_t moved = next_++;
      const int spelling = any_spelling();
      both("UPDATE " + t + " SET " + assign(moved, spelling) + " WHERE " + where(n, live_[n]));
      live_.erase(n);
      live_[moved] = spelling;
    } else if (action < 90) {
      const std::int64_t n = random_existing();
      both("DELETE FROM " + t + " WHERE " + where(n, any_spelling()));
      live_.erase(n);
    } else {
      // Two rows swap their unique codes inside one transaction.
      const std::int64_t first = random_existing();
      const std::int64_t second = random_existing();
      if (first == second) {
        continue;
      }
      auto code_of = [&](std::int64_t n) {
        return connection_->query_value("SELECT code FROM " + t + " WHERE " + where(n, live_[n]))
            .value_or("NULL");
      };
      const std::string code_a = code_of(first);
      const std::string code_b = code_of(second);
      both("UPDATE " + t + " SET code = NULL WHERE " + where(first, live_[first]));
      both("UPDATE " + t + " SET code = " + code_a + " WHERE " + where(second, live_[second]));
      both("UPDATE " + t + " SET code = " + code_b + " WHERE " + where(first, live_[first]));
    }
  }
  connection_->execute("COMMIT");
}

}  // namespace sluice::test

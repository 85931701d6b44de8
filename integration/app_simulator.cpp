#include "integration/app_simulator.h"

#include <chrono>
#include <stdexcept>

namespace sluice::test {

AppSimulator::AppSimulator(const Dsn& dsn, std::string table, std::string from, std::string to,
                           std::int64_t first_new_id)
    : session_(open_session(dsn)),
      table_(std::move(table)),
      from_(std::move(from)),
      to_(std::move(to)),
      next_id_(first_new_id) {}

AppSimulator::~AppSimulator() {
  stopping_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
}

void AppSimulator::adopt_existing_rows() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& row :
       session_->query("SELECT id, " + session_->quote(from_) + " FROM " + table_)) {
    values_[row[0].value_or("")] = row[1].value_or("");
  }
}

void AppSimulator::start(Release release) {
  release_.store(release);
  thread_ = std::thread([this] { run(); });
}

void AppSimulator::stop() {
  stopping_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
  if (!error_.empty()) {
    throw std::runtime_error("the application simulator failed: " + error_);
  }
}

std::map<std::string, std::string> AppSimulator::expected() {
  std::lock_guard<std::mutex> lock(mutex_);
  return values_;
}

void AppSimulator::run() {
  try {
    while (!stopping_.load()) {
      write_once(release_.load());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  } catch (const std::exception& error) {
    error_ = error.what();
  }
}

void AppSimulator::write_once(Release release) {
  const std::uint64_t n = writes_.fetch_add(1);
  const std::string from = session_->quote(from_);
  const std::string to = session_->quote(to_);
  // Every third write inserts a row; the others update one of the rows written so far.
  std::string id;
  if (n % 3 == 0) {
    id = std::to_string(next_id_++);
  } else {
    std::lock_guard<std::mutex> lock(mutex_);
    auto row = values_.begin();
    std::advance(row, static_cast<long>((n * 7919) % values_.size()));
    id = row->first;
  }
  const std::string raw = "user-" + id + "-" + std::to_string(n) + "@ex.com";
  const std::string value = session_->literal(raw);
  const bool insert = n % 3 == 0;
  switch (release) {
    case Release::v1:
      session_->execute(
          insert
              ? "INSERT INTO " + table_ + " (id, " + from + ") VALUES (" + id + ", " + value + ")"
              : "UPDATE " + table_ + " SET " + from + " = " + value + " WHERE id = " + id);
      break;
    case Release::v2:
      session_->execute(insert ? "INSERT INTO " + table_ + " (id, " + from + ", " + to +
                                     ") VALUES (" + id + ", " + value + ", " + value + ")"
                               : "UPDATE " + table_ + " SET " + from + " = " + value + ", " + to +
                                     " = " + value + " WHERE id = " + id);
      break;
    case Release::v3: {
      session_->execute(
          insert ? "INSERT INTO " + table_ + " (id, " + to + ") VALUES (" + id + ", " + value + ")"
                 : "UPDATE " + table_ + " SET " + to + " = " + value + " WHERE id = " + id);
      const std::string read =
          session_->value("SELECT " + to + " FROM " + table_ + " WHERE id = " + id);
      if (read != raw) {
        throw std::runtime_error("row " + id + " reads " + read + " after writing " + value);
      }
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  values_[id] = raw;
}

}  // namespace sluice::test

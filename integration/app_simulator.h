#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "integration/sql_session.h"

namespace sluice::test {

// An application whose releases move a column `from` → `to` through expand-contract, writing a
// table `(id PRIMARY KEY, <from> NOT NULL, ...)` on its own thread while a test drives the
// phases. The release decides what it writes:
//   v1 (before expand) writes `from` only;
//   v2 (after expand) writes both, the same value (a dual write);
//   v3 (after switch) writes and reads `to` only, and checks that it reads what it wrote.
// It inserts new rows and updates existing ones, and remembers each row's latest value, so a
// test can check the migrated column row by row at the end.
class AppSimulator {
 public:
  enum class Release { v1, v2, v3 };

  AppSimulator(const Dsn& dsn, std::string table, std::string from, std::string to,
               std::int64_t first_new_id);
  ~AppSimulator();
  AppSimulator(const AppSimulator&) = delete;
  AppSimulator& operator=(const AppSimulator&) = delete;

  // Remembers the values the table holds now (its preloaded rows).
  void adopt_existing_rows();
  void start(Release release);
  // Deploys another release: the next statement is the new release's.
  void deploy(Release release) { release_.store(release); }
  // Stops the thread and rethrows the first error it hit (a failed read-back included).
  void stop();
  std::uint64_t writes() const { return writes_.load(); }
  // Every row's latest value, as the application last wrote it.
  std::map<std::string, std::string> expected();

 private:
  void run();
  void write_once(Release release);

  std::unique_ptr<SqlSession> session_;
  std::string table_;
  std::string from_;
  std::string to_;
  std::int64_t next_id_;
  std::atomic<Release> release_{Release::v1};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> writes_{0};
  std::mutex mutex_;
  std::map<std::string, std::string> values_;  // guarded by mutex_
  std::thread thread_;
  std::string error_;
};

}  // namespace sluice::test

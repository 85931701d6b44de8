#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "integration/expand_contract_scenarios.h"
#include "integration/support.h"

namespace sluice::test {

// What the expand-contract scenario files share.

inline constexpr int kPreloadedRows = 3000;

// A directory of migration files, removed on destruction.
class MigrationDir {
 public:
  MigrationDir() {
    char name[] = "/tmp/sluice-migrations-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~MigrationDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& file, const std::string& text) const {
    std::ofstream(path_ / file) << text;
    return (path_ / file).string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Runs sluice's command args[0] with the scenario's --dsn and the rest of `args`.
RunResult sluice(const Scenario& scenario, std::vector<std::string> args);
void check_ok(const RunResult& run);
// The run exited with `code` and its stderr holds `text`.
void check_refused(const RunResult& run, int code, const std::string& text);

// A fresh `table` (id, email NOT NULL, amount, note) with kPreloadedRows rows, and no recorded
// migration of the given names.
std::unique_ptr<SqlSession> fresh_table(const Scenario& scenario, const std::string& table,
                                        const std::vector<std::string>& migrations);
// The recorded phase of migration `name`, or "" when none is recorded.
std::string phase_of(SqlSession& db, const Scenario& scenario, const std::string& name);

}  // namespace sluice::test

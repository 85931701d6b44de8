#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/dsn.h"

namespace sluice::test {

using Rows = std::vector<std::vector<std::optional<std::string>>>;

// One session to either test server, for tests that run the same scenario on both.
class SqlSession {
 public:
  virtual ~SqlSession() = default;
  virtual void execute(const std::string& sql) = 0;
  virtual Rows query(const std::string& sql) = 0;
  // The first column of the first row, or "" for no row or NULL.
  std::string value(const std::string& sql);
  virtual std::string literal(const std::string& text) = 0;
  virtual std::string quote(const std::string& name) = 0;
};

std::unique_ptr<SqlSession> open_session(const Dsn& dsn,
                                         const std::optional<std::string>& password = {});

}  // namespace sluice::test

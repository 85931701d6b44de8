#include "integration/row_diff.h"

#include <algorithm>

namespace sluice::test {
namespace {

std::string describe(const std::vector<std::optional<std::string>>& row) {
  std::string out = "(";
  for (const auto& value : row) {
    const std::string text = value.value_or("NULL");
    out += (out.size() > 1 ? ", " : "") + (text.size() > 40 ? text.substr(0, 40) + "…" : text);
  }
  return out + ")";
}

}  // namespace

std::string first_difference(const Rows& migrated, const Rows& expected) {
  for (std::size_t i = 0; i < std::max(migrated.size(), expected.size()); ++i) {
    if (i >= migrated.size() || i >= expected.size() || migrated[i] != expected[i]) {
      return "row " + std::to_string(i) + ": migrated " +
             (i < migrated.size() ? describe(migrated[i]) : "none") + ", expected " +
             (i < expected.size() ? describe(expected[i]) : "none");
    }
  }
  return "no difference";
}

}  // namespace sluice::test

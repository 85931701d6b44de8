#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sluice::test {

using Rows = std::vector<std::vector<std::optional<std::string>>>;

// The first row where two key-ordered row lists differ, for a readable test failure (long
// values shortened); "no difference" when they are equal.
std::string first_difference(const Rows& migrated, const Rows& expected);

}  // namespace sluice::test

#include "src/key_order.h"

#include <algorithm>
#include <string_view>

namespace sluice {
namespace {

using replication::Value;
using replication::ValueKind;

// Splits "-0012.500" into sign, integer digits without leading zeros, fraction digits without
// trailing zeros, so that decimal text of any precision compares exactly.
struct DecimalParts {
  bool negative = false;
  std::string_view integer;
  std::string_view fraction;
};

DecimalParts split_decimal(std::string_view text) {
  DecimalParts parts;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    parts.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  const std::size_t dot = text.find('.');
  parts.integer = text.substr(0, dot);
  parts.fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  while (!parts.integer.empty() && parts.integer.front() == '0') {
    parts.integer.remove_prefix(1);
  }
  while (!parts.fraction.empty() && parts.fraction.back() == '0') {
    parts.fraction.remove_suffix(1);
  }
  if (parts.integer.empty() && parts.fraction.empty()) {
    parts.negative = false;  // -0 == 0
  }
  return parts;
}

int compare_magnitude(const DecimalParts& a, const DecimalParts& b) {
  if (a.integer.size() != b.integer.size()) {
    return a.integer.size() < b.integer.size() ? -1 : 1;
  }
  if (int c = a.integer.compare(b.integer); c != 0) {
    return c < 0 ? -1 : 1;
  }
  int c = a.fraction.compare(b.fraction);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int compare_numbers(std::string_view a, std::string_view b) {
  const DecimalParts left = split_decimal(a);
  const DecimalParts right = split_decimal(b);
  if (left.negative != right.negative) {
    return left.negative ? -1 : 1;
  }
  const int magnitude = compare_magnitude(left, right);
  return left.negative ? -magnitude : magnitude;
}

int compare_values(const Value& a, const Value& b) {
  // NULL sorts first, as in MySQL and in PostgreSQL's NULLS FIRST; keys never hold NULL anyway.
  if (a.kind == ValueKind::null || b.kind == ValueKind::null) {
    return (a.kind == ValueKind::null ? 0 : 1) - (b.kind == ValueKind::null ? 0 : 1);
  }
  if (a.kind == ValueKind::number && b.kind == ValueKind::number) {
    return compare_numbers(a.text, b.text);
  }
  const int c = a.text.compare(b.text);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

int compare_keys(const replication::Row& a, const replication::Row& b) {
  const std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (int c = compare_values(a[i], b[i]); c != 0) {
      return c;
    }
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

}  // namespace sluice

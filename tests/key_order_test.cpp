#include "src/key_order.h"

#include <doctest/doctest.h>

using sluice::compare_keys;
using sluice::replication::Row;
using sluice::replication::Value;
using sluice::replication::ValueKind;

namespace {

Value num(const char* text) {
  return Value{ValueKind::number, text};
}
Value bin(std::string bytes) {
  return Value{ValueKind::binary, std::move(bytes)};
}

}  // namespace

TEST_CASE("numbers compare by value, not by text") {
  CHECK(compare_keys({num("9")}, {num("10")}) < 0);
  CHECK(compare_keys({num("-10")}, {num("-9")}) < 0);
  CHECK(compare_keys({num("-1")}, {num("0")}) < 0);
  CHECK(compare_keys({num("-0.000")}, {num("0")}) == 0);
  CHECK(compare_keys({num("1.50")}, {num("1.5")}) == 0);
  CHECK(compare_keys({num("1.05")}, {num("1.5")}) < 0);
  CHECK(compare_keys({num("18446744073709551615")}, {num("9223372036854775807")}) > 0);
  CHECK(compare_keys({num("-9223372036854775808")}, {num("-9223372036854775807")}) < 0);
  CHECK(compare_keys({num("007")}, {num("7")}) == 0);
}

TEST_CASE("binary keys compare bytewise, unsigned") {
  CHECK(compare_keys({bin("\x01")}, {bin("\xff")}) < 0);
  CHECK(compare_keys({bin("ab")}, {bin("abc")}) < 0);
}

TEST_CASE("composite keys compare column by column") {
  CHECK(compare_keys({num("1"), num("10")}, {num("2"), num("1")}) < 0);
  CHECK(compare_keys({num("2"), num("1")}, {num("2"), num("10")}) < 0);
  CHECK(compare_keys({num("2"), num("10")}, {num("2"), num("10")}) == 0);
  Row date_a = {Value{ValueKind::temporal, "2024-01-02 00:00:00"}, num("5")};
  Row date_b = {Value{ValueKind::temporal, "2024-01-10 00:00:00"}, num("1")};
  CHECK(compare_keys(date_a, date_b) < 0);
}

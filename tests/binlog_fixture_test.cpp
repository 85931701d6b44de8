// Decodes binlog files recorded from a real MariaDB by scripts/record-binlog-fixtures and checks
// every value against what the recording script inserted.
#include <doctest/doctest.h>

#include <map>

#include "replication/mysql/binlog_decoder.h"
#include "replication/mysql/binlog_file.h"
#include "replication/stream_error.h"

using namespace sluice::replication;
using namespace sluice::replication::mysql;

namespace {

const std::string kTypes = SLUICE_TEST_DATA_DIR "/mariadb-types.binlog";
const std::string kMinimal = SLUICE_TEST_DATA_DIR "/mariadb-minimal.binlog";

std::vector<Transaction> decode(const std::string& path, DecoderOptions options = {}) {
  BinlogFile file(path);
  BinlogDecoder decoder(std::move(options));
  decoder.start_at({"bin.000002", 4, "", 0}, false);
  std::vector<Transaction> transactions;
  for (auto event : file.events()) {
    if (auto transaction = decoder.feed(event)) {
      transactions.push_back(std::move(*transaction));
    }
  }
  return transactions;
}

// Every change of `table`, in order.
std::vector<ChangeEvent> changes_of(const std::vector<Transaction>& transactions,
                                    const std::string& table) {
  std::vector<ChangeEvent> out;
  for (const Transaction& transaction : transactions) {
    for (const ChangeEvent& change : transaction.changes) {
      if (change.table->table == table) {
        out.push_back(change);
      }
    }
  }
  return out;
}

Value num(std::string text) {
  return {ValueKind::number, std::move(text)};
}
Value txt(std::string text) {
  return {ValueKind::text, std::move(text)};
}
Value bin(std::string text) {
  return {ValueKind::binary, std::move(text)};
}
Value tmp(std::string text) {
  return {ValueKind::temporal, std::move(text)};
}
const Value kNull{ValueKind::null, ""};

std::string repeat(const std::string& unit, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) {
    out += unit;
  }
  return out;
}

void check_row(const Row& actual, const Row& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("column " << i << ": got " << format_value(actual[i]) << ", want "
                   << format_value(expected[i]));
    CHECK(actual[i] == expected[i]);
  }
}

}  // namespace

TEST_CASE("integers of every width decode with their sign at min, max, zero and NULL") {
  auto changes = changes_of(decode(kTypes), "ints");
  REQUIRE(changes.size() == 7);
  CHECK(changes[0].table->columns[2].type == "tinyint unsigned");
  CHECK(changes[0].table->columns[9].type == "bigint");
  check_row(*changes[0].after,
            {num("1"), num("-128"), num("0"), num("-32768"), num("0"), num("-8388608"), num("0"),
             num("-2147483648"), num("0"), num("-9223372036854775808"), num("0")});
  check_row(*changes[1].after,
            {num("2"), num("127"), num("255"), num("32767"), num("65535"), num("8388607"),
             num("16777215"), num("2147483647"), num("4294967295"), num("9223372036854775807"),
             num("18446744073709551615")});
  check_row(*changes[3].after,
            Row{num("4"), kNull, kNull, kNull, kNull, kNull, kNull, kNull, kNull, kNull, kNull});
  check_row(*changes[4].after, {num("5"), num("-1"), num("1"), num("-1"), num("1"), num("-1"),
                                num("1"), num("-1"), num("1"), num("-1"), num("1")});
  CHECK(changes[0].key_after == Row{num("1")});
  CHECK(changes[0].operation == Operation::insert);
  CHECK_FALSE(changes[0].before);
}

TEST_CASE("floats, decimals of every precision, BIT and YEAR round-trip as exact text") {
  auto changes = changes_of(decode(kTypes), "nums");
  REQUIRE(changes.size() == 4);
  check_row(*changes[0].after,
            {num("1"), num("1.5"), num("-2.25"), num("-9"), num("-0.001"),
             num("-12345678901234567890123456789012345.123456789012345678901234567890"),
             num("-0.0000000001"), num("123456789012345678.99"), bin("\x01"), bin("\x0a\xaa"),
             bin(std::string(8, '\xff')), num("2155")});
  check_row(*changes[1].after, {num("2"), num("3.4028235e+38"), num("1.7976931348623157e+308"),
                                num("9"), num("1234.567"), num("0.000000000000000000000000000000"),
                                num("0.9999999999"), num("0.00"), bin(std::string(1, '\0')),
                                bin(std::string(2, '\0')), bin(std::string(8, '\0')), num("1901")});
  check_row(*changes[2].after, {num("3"), num("-1e-10"), num("0.1"), num("0"), num("0.000"),
                                num("1.500000000000000000000000000000"), num("0.5000000000"),
                                num("0.01"), kNull, kNull, kNull, num("0000")});
  CHECK(changes[0].table->columns[4].type == "decimal(12,3)");
  CHECK(changes[0].table->columns[7].type == "decimal(20,2) unsigned");
}

TEST_CASE("temporal values: fractional digits, negative times, zero dates, TIMESTAMP in UTC") {
  auto changes = changes_of(decode(kTypes), "times");
  REQUIRE(changes.size() == 3);
  check_row(*changes[0].after, {num("1"), tmp("2024-02-29"), tmp("-838:59:59"), tmp("-00:00:00.5"),
                                tmp("12:34:56.789"), tmp("838:59:59.000000"),
                                tmp("1000-01-01 00:00:00"), tmp("9999-12-31 23:59:59.99"),
                                tmp("2024-05-01 10:11:12.123456"), tmp("1970-01-01 00:00:01"),
                                tmp("2038-01-19 03:14:07.999"), tmp("2024-05-01 10:11:12.000001")});
  check_row(*changes[1].after,
            {num("2"), tmp("0000-00-00"), tmp("00:00:00"), tmp("-01:02:03.4"), tmp("-12:34:56.789"),
             tmp("-00:00:00.000001"), tmp("0000-00-00 00:00:00"), tmp("0000-00-00 00:00:00.00"),
             tmp("2000-01-01 00:00:00.500000"), tmp("0000-00-00 00:00:00"),
             tmp("0000-00-00 00:00:00.000"), tmp("2000-01-01 00:00:00.100000")});
  CHECK(changes[0].table->columns[11].type == "timestamp(6)");
}

TEST_CASE("old-format TIME, DATETIME and TIMESTAMP (mysql56_temporal_format=OFF) decode") {
  auto changes = changes_of(decode(kTypes), "oldtimes");
  REQUIRE(changes.size() == 2);
  check_row(*changes[0].after,
            {num("1"), tmp("-12:34:56"), tmp("2024-05-01 10:11:12"), tmp("2024-05-01 10:11:12")});
  check_row(*changes[1].after,
            {num("2"), tmp("00:00:00"), tmp("0000-00-00 00:00:00"), tmp("0000-00-00 00:00:00")});
}

TEST_CASE("strings, blobs, ENUM, SET, JSON and GEOMETRY: charsets, lengths and empties") {
  auto changes = changes_of(decode(kTypes), "strs");
  REQUIRE(changes.size() == 3);
  const Row& full = *changes[0].after;
  REQUIRE(full.size() == 21);
  CHECK(full[1] == txt("AB"));
  CHECK(full[2] == txt("caf\xe9"));                        // latin1 bytes, untouched
  CHECK(full[3] == txt(repeat("\xf0\x9f\x98\x80", 255)));  // CHAR of 1020 bytes: 2-byte length
  CHECK(full[4] == txt(""));
  CHECK(full[5] == txt(repeat("\xc3\xa4", 300)));
  CHECK(full[6] == bin(std::string("\x01\x02\0\0", 4)));  // BINARY(4) padded back with zeros
  CHECK(full[7] == bin(std::string("\0\xff\0", 3)));
  CHECK(full[8] == txt("tiny"));
  CHECK(full[9] == txt("text \xf0\x9f\x98\x80"));
  CHECK(full[10] == txt("medium"));
  CHECK(full[11] == txt("long"));
  CHECK(full[12] == bin(std::string(1, '\0')));
  CHECK(full[13] == bin("\xde\xad\xbe\xef"));
  CHECK(full[14] == bin(""));
  CHECK(full[15] == bin(std::string("\0\x01", 2)));
  CHECK(full[16] == txt("y"));
  CHECK(full[17] == txt("a,d"));
  CHECK(full[18] == txt("{\"k\": [1, 2.5, \"x\"], \"n\": null}"));  // MariaDB JSON is LONGTEXT
  CHECK(full[19].kind == ValueKind::binary);
  CHECK(full[19].text.size() == 25);  // SRID + WKB point
  CHECK(full[20].kind == ValueKind::binary);
  check_row(*changes[1].after,
            {num("2"), txt(""), txt(""),  txt(""), txt(""),   txt(""), bin(std::string(4, '\0')),
             bin(""),  txt(""), txt(""),  txt(""), txt(""),   bin(""), bin(""),
             bin(""),  bin(""), txt("x"), txt(""), txt("[]"), kNull,   kNull});
  for (std::size_t i = 1; i < 21; ++i) {
    CHECK((*changes[2].after)[i] == kNull);
  }
  const auto& columns = changes[0].table->columns;
  CHECK(columns[3].name == "cw");
  CHECK(columns[6].type == "binary");
  CHECK(columns[9].type == "text");
  CHECK(columns[13].type == "blob");
  CHECK(columns[16].type == "enum");
}

TEST_CASE("updates carry both images and both keys; deletes the before image") {
  auto transactions = decode(kTypes);
  auto changes = changes_of(transactions, "ints");
  const ChangeEvent& update = changes[5];
  CHECK(update.operation == Operation::update);
  CHECK(update.key_before == Row{num("5")});
  CHECK(update.key_after == Row{num("6")});
  REQUIRE(update.before);
  REQUIRE(update.after);
  CHECK((*update.before)[1] == num("-1"));
  CHECK((*update.after)[1] == num("7"));
  const ChangeEvent& erase = changes[6];
  CHECK(erase.operation == Operation::erase);
  CHECK(erase.key_before == Row{num("3")});
  CHECK(erase.key_after.empty());
  CHECK_FALSE(erase.after);
  // Both changes belong to one transaction with the other table's update between them.
  CHECK(update.position == erase.position);
  CHECK(update.position.file == "bin.000002");
  CHECK(update.position.gtid == "0-1-21");
}

TEST_CASE("transactions end at XID and at a MyISAM COMMIT, each at its commit position") {
  auto transactions = decode(kTypes);
  auto myisam = changes_of(transactions, "myi");
  REQUIRE(myisam.size() == 1);
  CHECK((*myisam[0].after)[1] == num("10"));
  std::uint64_t last = 0;
  for (const Transaction& transaction : transactions) {
    CHECK(transaction.commit_position.offset > last);
    last = transaction.commit_position.offset;
    for (const ChangeEvent& change : transaction.changes) {
      CHECK(change.position == transaction.commit_position);
    }
  }
  CHECK(last == 40098);
}

TEST_CASE("a statement split over several rows events is one transaction") {
  auto transactions = decode(kTypes);
  const Transaction& big = transactions.back();
  REQUIRE(big.changes.size() == 300);
  CHECK(big.changes.front().key_after == Row{num("1")});
  CHECK(big.changes.back().key_after == Row{num("300")});
  CHECK((*big.changes.back().after)[1] == txt(std::string(100, 'p')));
}

TEST_CASE("a table without primary key uses every column as its key") {
  auto changes = changes_of(decode(kTypes), "nokey");
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].key_after == Row{num("1"), txt("a")});
  CHECK(changes[1].key_after == Row{kNull, kNull});
  CHECK(changes[0].table->key_columns == std::vector<std::size_t>{0, 1});
}

TEST_CASE("filtering: only selected tables produce changes; others still commit as progress") {
  DecoderOptions options;
  options.tables.push_back({"sluice_test", "ints", {}});
  auto transactions = decode(kTypes, options);
  std::size_t changes = 0;
  std::size_t empty = 0;
  for (const Transaction& transaction : transactions) {
    changes += transaction.changes.size();
    empty += transaction.changes.empty() ? 1 : 0;
    for (const ChangeEvent& change : transaction.changes) {
      CHECK(change.table->table == "ints");
    }
  }
  CHECK(changes == 7);
  CHECK(empty == 8);
  CHECK(transactions.size() == 10);
}

TEST_CASE("a chosen key replaces the primary key; an unknown key column is refused") {
  DecoderOptions options;
  options.tables.push_back({"sluice_test", "ints", {"b", "t"}});
  auto changes = changes_of(decode(kTypes, options), "ints");
  CHECK(changes[0].key_after == Row{num("-9223372036854775808"), num("-128")});
  options.tables.front().key_columns = {"nope"};
  CHECK_THROWS_AS(decode(kTypes, options), StreamError);
}

TEST_CASE("key-only decoding yields the same keys without images") {
  DecoderOptions options;
  options.full_images = false;
  auto fast = changes_of(decode(kTypes, options), "ints");
  auto full = changes_of(decode(kTypes), "ints");
  REQUIRE(fast.size() == full.size());
  for (std::size_t i = 0; i < fast.size(); ++i) {
    CHECK(fast[i].key_before == full[i].key_before);
    CHECK(fast[i].key_after == full[i].key_after);
    CHECK_FALSE(fast[i].after);
    CHECK_FALSE(fast[i].before);
  }
}

TEST_CASE("binlog_checksum=NONE, MINIMAL metadata and MINIMAL row images still decode") {
  auto transactions = decode(kMinimal);
  REQUIRE(transactions.size() == 3);
  const ChangeEvent& insert = transactions[0].changes.at(0);
  CHECK(insert.table->columns[0].name == "@1");
  CHECK(insert.table->columns[0].type == "int unsigned");
  check_row(*insert.after, {num("4294967295"), txt("x"), bin("\x01")});
  CHECK(insert.key_after == *insert.after);  // no primary key in MINIMAL metadata
  // Columns-present bitmaps: the before image holds the primary key, the after image only the
  // changed column; the others are reported as not sent.
  const Value absent{ValueKind::unchanged, ""};
  const ChangeEvent& update = transactions[1].changes.at(0);
  CHECK(update.operation == Operation::update);
  check_row(*update.before, {num("4294967295"), absent, absent});
  check_row(*update.after, {absent, txt("y"), absent});
  const ChangeEvent& erase = transactions[2].changes.at(0);
  CHECK(erase.operation == Operation::erase);
  check_row(*erase.before, {num("1"), absent, absent});
}

TEST_CASE("the read position follows the file and ends after the last event") {
  BinlogFile file(kTypes);
  BinlogDecoder decoder({});
  decoder.start_at({"bin.000002", 4, "", 0}, false);
  for (auto event : file.events()) {
    decoder.feed(event);
  }
  CHECK(decoder.read_position().file == "bin.000003");  // the closing ROTATE
  CHECK(decoder.read_position().offset == 4);
  CHECK(decoder.resume_position().file == "bin.000003");
  CHECK(decoder.file_switched());
  CHECK_FALSE(decoder.in_transaction());
  // ints 7, nums 4, times 3, strs 3, oldtimes 2, nokey 2, myi 1, other 2, many 300
  CHECK(decoder.rows_decoded() == 7 + 4 + 3 + 3 + 2 + 2 + 1 + 2 + 300);
}

TEST_CASE("a truncated event is refused, not read past its end") {
  BinlogFile file(kTypes);
  BinlogDecoder decoder({});
  decoder.start_at({"bin.000002", 4, "", 0}, false);
  bool refused = false;
  for (auto event : file.events()) {
    if (event[4] == kWriteRowsEventV1) {
      CHECK_THROWS_AS(decoder.feed(event.first(event.size() - 10)), StreamError);
      refused = true;
      break;
    }
    decoder.feed(event);
  }
  CHECK(refused);
}

TEST_CASE("the next binlog file keeps the name and the zero padding") {
  CHECK(next_binlog_file("bin.000009") == "bin.000010");
  CHECK(next_binlog_file("my.host-bin.999999") == "my.host-bin.1000000");
  CHECK_THROWS_AS(next_binlog_file("bin"), StreamError);
}

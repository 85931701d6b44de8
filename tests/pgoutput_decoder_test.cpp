// The pgoutput decoder on message bytes built by hand after PostgreSQL's "Logical Replication
// Message Formats" (protocol version 1).
#include "replication/postgres/pgoutput_decoder.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "replication/stream_error.h"

using sluice::replication::ChangeEvent;
using sluice::replication::Operation;
using sluice::replication::Row;
using sluice::replication::StreamError;
using sluice::replication::Value;
using sluice::replication::ValueKind;
using sluice::replication::postgres::decode_bytea_hex;
using sluice::replication::postgres::DecodedTransaction;
using sluice::replication::postgres::PgOutputDecoder;

namespace {

// Appends protocol fields in network byte order.
class Bytes {
 public:
  explicit Bytes(char kind) { out_ += kind; }
  Bytes& u8(std::uint8_t value) {
    out_ += static_cast<char>(value);
    return *this;
  }
  Bytes& u16(std::uint16_t value) { return big_endian(value, 2); }
  Bytes& u32(std::uint32_t value) { return big_endian(value, 4); }
  Bytes& u64(std::uint64_t value) { return big_endian(value, 8); }
  Bytes& str(const std::string& text) {
    out_ += text;
    out_ += '\0';
    return *this;
  }
  Bytes& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  // Tuple data: "n" NULL, "u" unchanged TOAST, anything else a text value.
  Bytes& tuple(const std::vector<std::string>& values) {
    u16(static_cast<std::uint16_t>(values.size()));
    for (const std::string& value : values) {
      if (value == "n" || value == "u") {
        u8(static_cast<std::uint8_t>(value[0]));
      } else {
        u8('t').u32(static_cast<std::uint32_t>(value.size())).raw(value);
      }
    }
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  Bytes& big_endian(std::uint64_t value, int size) {
    for (int shift = (size - 1) * 8; shift >= 0; shift -= 8) {
      out_ += static_cast<char>((value >> shift) & 0xff);
    }
    return *this;
  }
  std::string out_;
};

constexpr std::uint32_t kOrders = 16400;
constexpr std::uint32_t kItems = 16410;
constexpr std::uint64_t kCommitLsn = 0x16B3748;
constexpr std::uint64_t kEndLsn = 0x16B3778;

std::string begin(std::uint64_t lsn = kCommitLsn) {
  return Bytes('B').u64(lsn).u64(1'000'000).u32(777).bytes();
}

std::string commit(std::uint64_t lsn = kCommitLsn, std::uint64_t end = kEndLsn) {
  return Bytes('C').u8(0).u64(lsn).u64(end).u64(2'000'000).bytes();
}

// shop.orders (id int4 key, note text, data bytea, doc jsonb, at timestamptz, amount numeric).
std::string orders_relation(char identity = 'd', bool all_key = false) {
  Bytes relation('R');
  relation.u32(kOrders).str("shop").str("orders").u8(static_cast<std::uint8_t>(identity)).u16(6);
  const std::pair<const char*, std::uint32_t> columns[] = {
      {"id", 23}, {"note", 25}, {"data", 17}, {"doc", 3802}, {"at", 1184}, {"amount", 1700}};
  bool first = true;
  for (const auto& [name, type] : columns) {
    relation.u8(first || all_key ? 1 : 0).str(name).u32(type).u32(0xffffffff);
    first = false;
  }
  return relation.bytes();
}

// shop.items (order_id int4 key, line int4 key, sku varchar).
std::string items_relation() {
  return Bytes('R')
      .u32(kItems)
      .str("shop")
      .str("items")
      .u8('d')
      .u16(3)
      .u8(1)
      .str("order_id")
      .u32(23)
      .u32(0xffffffff)
      .u8(1)
      .str("line")
      .u32(23)
      .u32(0xffffffff)
      .u8(0)
      .str("sku")
      .u32(1043)
      .u32(14)
      .bytes();
}

std::vector<std::string> order_row(const std::string& id, const std::string& note) {
  return {id, note, "\\x00ff41", "{\"a\": 1}", "2024-05-01 10:11:12.5+00", "12.340"};
}

Value num(const std::string& text) {
  return Value{ValueKind::number, text};
}
Value txt(const std::string& text) {
  return Value{ValueKind::text, text};
}

// Feeds every message; only the last may complete a transaction.
DecodedTransaction run(PgOutputDecoder& decoder, const std::vector<std::string>& messages) {
  for (std::size_t i = 0; i + 1 < messages.size(); ++i) {
    REQUIRE_FALSE(decoder.feed(messages[i]).has_value());
  }
  std::optional<DecodedTransaction> done = decoder.feed(messages.back());
  REQUIRE(done.has_value());
  return *done;
}

}  // namespace

TEST_CASE("an insert yields one event with its after image, key and commit position") {
  PgOutputDecoder decoder;
  const DecodedTransaction done = run(
      decoder, {orders_relation(), begin(),
                Bytes('I').u32(kOrders).u8('N').tuple(order_row("7", "it's")).bytes(), commit()});
  CHECK(done.end_lsn == kEndLsn);
  CHECK(done.transaction.commit_position.lsn == kCommitLsn);
  REQUIRE(done.transaction.changes.size() == 1);
  const ChangeEvent& change = done.transaction.changes.front();
  CHECK(change.operation == Operation::insert);
  CHECK(change.table->schema == "shop");
  CHECK(change.table->table == "orders");
  CHECK(change.table->columns[3].type == "jsonb");
  CHECK(change.key_after == Row{num("7")});
  CHECK(change.key_before.empty());
  CHECK_FALSE(change.before.has_value());
  REQUIRE(change.after.has_value());
  CHECK(*change.after == Row{num("7"), txt("it's"),
                             Value{ValueKind::binary, std::string("\0\xff"
                                                                  "A",
                                                                  3)},
                             Value{ValueKind::json, "{\"a\": 1}"},
                             Value{ValueKind::temporal, "2024-05-01 10:11:12.5+00"},
                             num("12.340")});
  CHECK(change.position.lsn == kCommitLsn);
  CHECK(sluice::replication::format_change(change) ==
        "insert shop.orders key (7) after (7, 'it\\'s', 0x00ff41, '{\"a\": 1}', "
        "'2024-05-01 10:11:12.5+00', 12.340) at 0/16B3748");
}

TEST_CASE("NULLs and unchanged TOAST values keep their own kinds") {
  PgOutputDecoder decoder;
  const DecodedTransaction done =
      run(decoder, {orders_relation(), begin(),
                    Bytes('U').u32(kOrders).u8('N').tuple({"7", "u", "n", "n", "n", "n"}).bytes(),
                    commit()});
  const ChangeEvent& change = done.transaction.changes.front();
  CHECK(change.operation == Operation::update);
  CHECK(change.key_before == Row{num("7")});
  CHECK(change.key_after == Row{num("7")});
  CHECK_FALSE(change.before.has_value());
  CHECK((*change.after)[1].kind == ValueKind::unchanged);
  CHECK((*change.after)[2] == Value{ValueKind::null, ""});
  CHECK(sluice::replication::format_change(change) ==
        "update shop.orders key (7) after (7, <unchanged>, NULL, NULL, NULL, NULL) at 0/16B3748");
}

TEST_CASE("an update that changes the key carries the old key in a 'K' tuple") {
  PgOutputDecoder decoder;
  const DecodedTransaction done = run(decoder, {orders_relation(), begin(),
                                                Bytes('U')
                                                    .u32(kOrders)
                                                    .u8('K')
                                                    .tuple({"7", "n", "n", "n", "n", "n"})
                                                    .u8('N')
                                                    .tuple(order_row("8", "moved"))
                                                    .bytes(),
                                                commit()});
  const ChangeEvent& change = done.transaction.changes.front();
  CHECK(change.key_before == Row{num("7")});
  CHECK(change.key_after == Row{num("8")});
  CHECK_FALSE(change.before.has_value());
  CHECK((*change.after)[1] == txt("moved"));
}

TEST_CASE("REPLICA IDENTITY FULL: the 'O' tuple is the whole before image") {
  PgOutputDecoder decoder;
  const DecodedTransaction done = run(
      decoder, {orders_relation('f', /*all_key=*/true), begin(),
                Bytes('U')
                    .u32(kOrders)
                    .u8('O')
                    .tuple(order_row("7", "old"))
                    .u8('N')
                    .tuple({"7", "new", "u", "n", "n", "1"})
                    .bytes(),
                Bytes('D').u32(kOrders).u8('O').tuple(order_row("9", "gone")).bytes(), commit()});
  REQUIRE(done.transaction.changes.size() == 2);
  const ChangeEvent& update = done.transaction.changes[0];
  REQUIRE(update.before.has_value());
  CHECK((*update.before)[1] == txt("old"));
  CHECK((*update.after)[1] == txt("new"));
  // Under FULL every column is part of the identity; an unchanged TOAST key column is taken
  // from the old tuple.
  CHECK(update.key_before.size() == 6);
  CHECK(update.key_after[2] == update.key_before[2]);
  const ChangeEvent& erase = done.transaction.changes[1];
  CHECK(erase.operation == Operation::erase);
  REQUIRE(erase.before.has_value());
  CHECK((*erase.before)[1] == txt("gone"));
  CHECK(erase.key_before.front() == num("9"));
}

TEST_CASE("a delete under the default identity carries only the key") {
  PgOutputDecoder decoder;
  const DecodedTransaction done =
      run(decoder, {orders_relation(), begin(),
                    Bytes('D').u32(kOrders).u8('K').tuple({"7", "n", "n", "n", "n", "n"}).bytes(),
                    commit()});
  const ChangeEvent& change = done.transaction.changes.front();
  CHECK(change.operation == Operation::erase);
  CHECK(change.key_before == Row{num("7")});
  CHECK_FALSE(change.before.has_value());
  CHECK_FALSE(change.after.has_value());
  CHECK(sluice::replication::format_change(change) == "delete shop.orders key (7) at 0/16B3748");
}

TEST_CASE("a transaction over two relations keeps the order of its changes") {
  PgOutputDecoder decoder;
  const DecodedTransaction done = run(
      decoder,
      {begin(), orders_relation(),
       Bytes('I').u32(kOrders).u8('N').tuple(order_row("1", "a")).bytes(), items_relation(),
       Bytes('I').u32(kItems).u8('N').tuple({"1", "1", "sku-1"}).bytes(),
       Bytes('I').u32(kItems).u8('N').tuple({"1", "2", "n"}).bytes(),
       Bytes('D').u32(kOrders).u8('K').tuple({"5", "n", "n", "n", "n", "n"}).bytes(), commit()});
  const auto& changes = done.transaction.changes;
  REQUIRE(changes.size() == 4);
  CHECK(changes[0].table->table == "orders");
  CHECK(changes[1].table->table == "items");
  CHECK(changes[1].key_after == Row{num("1"), num("1")});
  CHECK(changes[2].key_after == Row{num("1"), num("2")});
  CHECK(changes[2].table->columns[2].type == "varchar");
  CHECK(changes[3].operation == Operation::erase);
  for (const ChangeEvent& change : changes) {
    CHECK(change.position.lsn == kCommitLsn);
  }
}

TEST_CASE("truncate is reported as its own operation, one event per table") {
  PgOutputDecoder decoder;
  const DecodedTransaction done =
      run(decoder, {orders_relation(), items_relation(), begin(),
                    Bytes('T').u32(2).u8(1).u32(kOrders).u32(kItems).bytes(), commit()});
  REQUIRE(done.transaction.changes.size() == 2);
  CHECK(done.transaction.changes[0].operation == Operation::truncate);
  CHECK(done.transaction.changes[1].table->table == "items");
  CHECK(sluice::replication::format_change(done.transaction.changes[0]) ==
        "truncate shop.orders at 0/16B3748");
}

TEST_CASE("origin, type and logical messages are understood and carry no change") {
  PgOutputDecoder decoder;
  const std::string type = Bytes('Y').u32(20000).str("shop").str("mood").bytes();
  const std::string relation = Bytes('R')
                                   .u32(kItems)
                                   .str("")
                                   .str("moods")
                                   .u8('i')
                                   .u16(2)
                                   .u8(1)
                                   .str("id")
                                   .u32(20)
                                   .u32(0xffffffff)
                                   .u8(0)
                                   .str("mood")
                                   .u32(20000)
                                   .u32(0xffffffff)
                                   .bytes();
  const std::string message = Bytes('M').u8(0).u64(0x10).str("sluice").u32(5).raw("hello").bytes();
  CHECK_FALSE(decoder.feed(message).has_value());
  const DecodedTransaction done =
      run(decoder, {type, relation, begin(), Bytes('O').u64(0x99).str("upstream").bytes(),
                    Bytes('M').u8(1).u64(0x11).str("p").u32(0).bytes(),
                    Bytes('I').u32(kItems).u8('N').tuple({"-5", "happy"}).bytes(), commit()});
  REQUIRE(done.transaction.changes.size() == 1);
  const ChangeEvent& change = done.transaction.changes.front();
  CHECK(change.table->schema == "pg_catalog");
  CHECK(change.table->columns[1].type == "shop.mood");
  CHECK((*change.after)[1] == txt("happy"));
  CHECK(change.key_after == Row{num("-5")});
}

TEST_CASE("a new relation message replaces the old description") {
  PgOutputDecoder decoder;
  run(decoder, {items_relation(), begin(),
                Bytes('I').u32(kItems).u8('N').tuple({"1", "1", "a"}).bytes(), commit()});
  const std::string widened = Bytes('R')
                                  .u32(kItems)
                                  .str("shop")
                                  .str("items")
                                  .u8('d')
                                  .u16(2)
                                  .u8(1)
                                  .str("order_id")
                                  .u32(23)
                                  .u32(0xffffffff)
                                  .u8(0)
                                  .str("sku")
                                  .u32(25)
                                  .u32(0xffffffff)
                                  .bytes();
  const DecodedTransaction done = run(
      decoder, {widened, begin(0x2000000), Bytes('I').u32(kItems).u8('N').tuple({"2", "b"}).bytes(),
                commit(0x2000000, 0x2000030)});
  CHECK(done.transaction.changes.front().table->columns.size() == 2);
  CHECK(done.transaction.changes.front().table->columns[1].type == "text");
}

TEST_CASE("malformed and out-of-order messages are refused") {
  PgOutputDecoder decoder;
  CHECK_THROWS_AS(decoder.feed(Bytes('I').u32(kOrders).bytes()), StreamError);
  CHECK_THROWS_AS(decoder.feed(commit()), StreamError);
  CHECK_THROWS_AS(decoder.feed(Bytes('Z').bytes()), StreamError);
  CHECK_THROWS_AS(decoder.feed(Bytes('B').u64(1).bytes()), StreamError);
  decoder.feed(begin());
  CHECK(decoder.in_transaction());
  // A change for a relation never described.
  CHECK_THROWS_AS(decoder.feed(Bytes('I').u32(1).u8('N').tuple({"1"}).bytes()), StreamError);
  decoder.feed(orders_relation());
  // Fewer columns than the relation has.
  CHECK_THROWS_AS(decoder.feed(Bytes('I').u32(kOrders).u8('N').tuple({"1"}).bytes()), StreamError);
  // A value that runs past the end of the message.
  CHECK_THROWS_AS(
      decoder.feed(Bytes('I').u32(kOrders).u8('N').u16(6).u8('t').u32(100).raw("x").bytes()),
      StreamError);
  CHECK_THROWS_AS(decoder.feed(commit(kCommitLsn + 8)), StreamError);
  decoder.reset_transaction();
  CHECK_FALSE(decoder.in_transaction());
}

TEST_CASE("bytea hex text decodes to raw bytes") {
  CHECK(decode_bytea_hex("\\x") == "");
  CHECK(decode_bytea_hex("\\x00FFab") == std::string("\0\xff\xab", 3));
  CHECK_THROWS_AS(decode_bytea_hex("\\x0"), StreamError);
  CHECK_THROWS_AS(decode_bytea_hex("\\xzz"), StreamError);
  CHECK_THROWS_AS(decode_bytea_hex("abc\\000"), StreamError);
}

namespace {

// The messages of tests/data/pgoutput-types.bin (scripts/record-pgoutput-fixtures), each framed
// by a 4-byte big-endian length.
std::vector<std::string> recorded_messages() {
  std::ifstream file(SLUICE_TEST_DATA_DIR "/pgoutput-types.bin", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::string> messages;
  std::size_t at = 0;
  while (at + 4 <= bytes.size()) {
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) {
      length = (length << 8) | static_cast<std::uint8_t>(bytes[at + i]);
    }
    messages.push_back(bytes.substr(at + 4, length));
    at += 4 + length;
  }
  return messages;
}

}  // namespace

TEST_CASE("messages recorded from a real slot decode into the transactions that wrote them") {
  const std::vector<std::string> messages = recorded_messages();
  REQUIRE(messages.size() > 30);
  PgOutputDecoder decoder;
  std::vector<DecodedTransaction> transactions;
  for (const std::string& message : messages) {
    if (auto transaction = decoder.feed(message)) {
      transactions.push_back(std::move(*transaction));
    }
  }
  // The script's ten transactions: four inserts; three updates; the REPLICA IDENTITY FULL
  // insert, update and delete; a delete; a message; a truncate.
  REQUIRE(transactions.size() == 10);
  const auto& inserts = transactions[0].transaction.changes;
  REQUIRE(inserts.size() == 4);
  CHECK(inserts[0].after->at(1) == Value{ValueKind::text, "alice"});
  CHECK(inserts[1].after->at(1).kind == ValueKind::null);
  const ChangeEvent& toast_kept = transactions[1].transaction.changes.at(0);
  CHECK(toast_kept.operation == Operation::update);
  CHECK(toast_kept.after->at(8).kind == ValueKind::unchanged);
  const ChangeEvent& key_change = transactions[2].transaction.changes.at(0);
  CHECK(key_change.key_before != key_change.key_after);
  const ChangeEvent& full_update = transactions[5].transaction.changes.at(0);
  CHECK(full_update.before.has_value());
  CHECK(transactions[8].transaction.changes.empty());
  CHECK(transactions[9].transaction.changes.at(0).operation == Operation::truncate);
}

// Events built byte by byte for what a MariaDB fixture cannot hold: MySQL 8's rows events v2
// (extra-data header), its binary JSON, its GTID events, partial JSON updates, CRC32 trailers.
#include <doctest/doctest.h>
#include <zstd.h>

#include <cstring>

#include "replication/mysql/binlog_decoder.h"
#include "replication/mysql/json_binary.h"
#include "replication/stream_error.h"

using namespace sluice::replication;
using namespace sluice::replication::mysql;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put(Bytes& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

void put(Bytes& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}

class EventBuilder {
 public:
  explicit EventBuilder(bool checksum) : checksum_(checksum) {}

  Bytes event(std::uint8_t type, const Bytes& body) {
    Bytes out;
    const std::size_t size = 19 + body.size() + (checksum_ ? 4 : 0);
    position_ += static_cast<std::uint32_t>(size);
    put(out, 1700000000, 4);
    out.push_back(type);
    put(out, 1, 4);
    put(out, size, 4);
    put(out, position_, 4);
    put(out, 0, 2);
    out.insert(out.end(), body.begin(), body.end());
    if (checksum_) {
      put(out, 0xdeadbeef, 4);  // the decoder leaves verification to the transport
    }
    return out;
  }

  Bytes format_description(std::string version = "8.0.36") {
    Bytes body;
    put(body, 4, 2);
    version.resize(50, '\0');
    put(body, version);
    put(body, 0, 4);
    body.push_back(19);
    for (int type = 1; type <= 41; ++type) {
      std::uint8_t length = 0;
      if (type == kQueryEvent)
        length = 13;
      if (type == kRotateEvent)
        length = 8;
      if (type == kTableMapEvent || (type >= 23 && type <= 25))
        length = 8;
      if ((type >= 30 && type <= 32) || type == kMysqlPartialUpdateRowsEvent)
        length = 10;
      body.push_back(length);
    }
    body.push_back(checksum_ ? 1 : 0);
    if (!checksum_) {
      put(body, 0, 4);  // the checksum field is there even with binlog_checksum=NONE
    }
    return event(kFormatDescriptionEvent, body);
  }

  Bytes gtid() {
    Bytes body;
    body.push_back(1);
    for (int i = 0; i < 16; ++i) {
      body.push_back(static_cast<std::uint8_t>(0x10 + i));
    }
    put(body, 42, 8);
    body.push_back(2);  // logical timestamps follow in real events; the decoder ignores them
    body.insert(body.end(), 16, 0);
    return event(kMysqlGtidEvent, body);
  }

  Bytes query(std::string_view text) {
    Bytes body;
    put(body, 7, 4);
    put(body, 0, 4);
    body.push_back(4);
    put(body, 0, 2);
    put(body, 0, 2);
    put(body, "shop");
    body.push_back(0);
    put(body, text);
    return event(kQueryEvent, body);
  }

  Bytes xid() {
    Bytes body;
    put(body, 99, 8);
    return event(kXidEvent, body);
  }

  // The ROTATE a server writes at the end of a file, naming the next one.
  Bytes rotate(std::string_view next_file) {
    Bytes body;
    put(body, 4, 8);
    put(body, next_file);
    return event(kRotateEvent, body);
  }
  // A heartbeat: the dump thread's file in the body, its offset there in the header.
  Bytes heartbeat(std::string_view file, std::uint32_t offset) {
    Bytes body;
    put(body, file);
    Bytes out = event(kHeartbeatEvent, body);
    position_ -= static_cast<std::uint32_t>(out.size());  // not in the file
    for (int i = 0; i < 4; ++i) {
      out[13 + i] = static_cast<std::uint8_t>(offset >> (8 * i));
    }
    return out;
  }
  // shop.docs (id INT UNSIGNED PRIMARY KEY, doc JSON, note VARCHAR(20) utf8mb4), FULL metadata.
  Bytes table_map(std::string_view table = "docs") {
    Bytes body;
    put(body, 77, 6);
    put(body, 1, 2);
    body.push_back(4);
    put(body, "shop");
    body.push_back(0);
    body.push_back(static_cast<std::uint8_t>(table.size()));
    put(body, table);
    body.push_back(0);
    body.push_back(3);
    body.push_back(kTypeLong);
    body.push_back(kTypeJson);
    body.push_back(kTypeVarchar);
    body.push_back(3);  // metadata: JSON length bytes, VARCHAR max length
    body.push_back(4);
    put(body, 80, 2);
    body.push_back(0b110);  // doc and note nullable
    body.push_back(1);      // signedness: id unsigned
    body.push_back(1);
    body.push_back(0x80);
    body.push_back(3);  // column charsets: note utf8mb4
    body.push_back(1);
    body.push_back(45);
    body.push_back(4);  // column names
    body.push_back(12);
    for (std::string_view name : {"id", "doc", "note"}) {
      body.push_back(static_cast<std::uint8_t>(name.size()));
      put(body, name);
    }
    body.push_back(8);  // primary key: column 0
    body.push_back(1);
    body.push_back(0);
    return event(kTableMapEvent, body);
  }

  // A v2 rows event with `extra` bytes of extra data and the given row images.
  Bytes rows(std::uint8_t type, const Bytes& images, const Bytes& extra = {}) {
    Bytes body;
    put(body, 77, 6);
    put(body, 1, 2);
    put(body, 2 + extra.size(), 2);
    body.insert(body.end(), extra.begin(), extra.end());
    body.push_back(3);
    body.push_back(0b111);
    if (type == kUpdateRowsEventV2 || type == kMysqlPartialUpdateRowsEvent) {
      body.push_back(0b111);
    }
    body.insert(body.end(), images.begin(), images.end());
    return event(type, body);
  }

 private:
  bool checksum_;
  std::uint32_t position_ = 4;
};

// {"a": [1, "xy"], "b": true} in MySQL's binary JSON.
Bytes json_document() {
  return {0x00, 0x02, 0x00, 0x21, 0x00, 0x12, 0x00, 0x01, 0x00, 0x13, 0x00, 0x01,
          0x00, 0x02, 0x14, 0x00, 0x04, 0x01, 0x00, 'a',  'b',  0x02, 0x00, 0x0d,
          0x00, 0x05, 0x01, 0x00, 0x0c, 0x0a, 0x00, 0x02, 'x',  'y'};
}

Bytes row(std::uint32_t id, const Bytes& json, std::string_view note, std::uint8_t nulls = 0) {
  Bytes out{nulls};
  put(out, id, 4);
  if (!(nulls & 2)) {
    put(out, json.size(), 4);
    out.insert(out.end(), json.begin(), json.end());
  }
  if (!(nulls & 4)) {
    out.push_back(static_cast<std::uint8_t>(note.size()));
    put(out, note);
  }
  return out;
}

std::vector<Transaction> feed_all(BinlogDecoder& decoder, const std::vector<Bytes>& events) {
  std::vector<Transaction> out;
  for (const Bytes& event : events) {
    if (auto transaction = decoder.feed(event)) {
      out.push_back(std::move(*transaction));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("MySQL 8 rows events v2 with extra data, binary JSON and GTIDs decode") {
  for (bool checksum : {false, true}) {
    CAPTURE(checksum);
    EventBuilder build(checksum);
    BinlogDecoder decoder({});
    decoder.start_at({"binlog.000007", 4, "", 0}, checksum);
    Bytes images = row(4000000000u, json_document(), "h\xc3\xa9");
    Bytes second = row(2, {}, "", 0b110);
    images.insert(images.end(), second.begin(), second.end());
    Bytes update = row(2, {}, "", 0b110);
    Bytes after = row(3, json_document(), "");
    update.insert(update.end(), after.begin(), after.end());
    auto transactions = feed_all(
        decoder, {build.format_description(), build.gtid(), build.query("BEGIN"), build.table_map(),
                  build.rows(kWriteRowsEventV2, images, {0x00, 0x01, 0x02}),
                  build.rows(kUpdateRowsEventV2, update),
                  build.rows(kDeleteRowsEventV2, row(3, {}, "", 0b110)), build.xid()});
    REQUIRE(transactions.size() == 1);
    const Transaction& transaction = transactions[0];
    REQUIRE(transaction.changes.size() == 4);
    CHECK(transaction.commit_position.gtid == "10111213-1415-1617-1819-1a1b1c1d1e1f:42");
    CHECK(transaction.commit_position.file == "binlog.000007");
    const ChangeEvent& insert = transaction.changes[0];
    CHECK(insert.key_after == Row{{ValueKind::number, "4000000000"}});
    CHECK((*insert.after)[1] == Value{ValueKind::json, "{\"a\": [1, \"xy\"], \"b\": true}"});
    CHECK((*insert.after)[2] == Value{ValueKind::text, "h\xc3\xa9"});
    CHECK((*transaction.changes[1].after)[1].kind == ValueKind::null);
    CHECK(transaction.changes[2].key_before == Row{{ValueKind::number, "2"}});
    CHECK(transaction.changes[2].key_after == Row{{ValueKind::number, "3"}});
    CHECK(transaction.changes[3].operation == Operation::erase);
    CHECK(insert.table->columns[1].type == "json");
    CHECK(insert.table->columns[0].type == "int unsigned");
  }
}

TEST_CASE("key-only decoding skips binary JSON without converting it") {
  EventBuilder build(false);
  DecoderOptions options;
  options.full_images = false;
  BinlogDecoder decoder(options);
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  Bytes broken_json = json_document();
  broken_json[1] = 0x7f;  // a count that would fail conversion: skipping must not look inside
  auto transactions =
      feed_all(decoder, {build.format_description(), build.query("BEGIN"), build.table_map(),
                         build.rows(kWriteRowsEventV2, row(9, broken_json, "z")), build.xid()});
  REQUIRE(transactions.size() == 1);
  CHECK(transactions[0].changes.at(0).key_after == Row{{ValueKind::number, "9"}});
}

TEST_CASE("a partial JSON update of a selected table is refused with a clear error") {
  EventBuilder build(false);
  BinlogDecoder decoder({});
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  feed_all(decoder, {build.format_description(), build.query("BEGIN"), build.table_map()});
  try {
    decoder.feed(build.rows(kMysqlPartialUpdateRowsEvent, row(1, {}, "", 0b110)));
    FAIL("a partial JSON update was accepted");
  } catch (const StreamError& error) {
    CHECK(std::string(error.what()).find("partial JSON update of shop.docs") != std::string::npos);
    CHECK(std::string(error.what()).find("binlog_row_value_options") != std::string::npos);
  }
}

TEST_CASE("rows of tables that are not selected are skipped without being decoded") {
  EventBuilder build(false);
  DecoderOptions options;
  options.tables.push_back({"shop", "orders", {}});
  BinlogDecoder decoder(options);
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  Bytes garbage(40, 0xff);
  auto transactions =
      feed_all(decoder, {build.format_description(), build.query("BEGIN"), build.table_map("docs"),
                         build.rows(kMysqlPartialUpdateRowsEvent, garbage),
                         build.rows(kWriteRowsEventV2, garbage), build.xid()});
  REQUIRE(transactions.size() == 1);
  CHECK(transactions[0].changes.empty());
}

TEST_CASE("a MySQL DDL after its GTID event is a transaction of its own") {
  EventBuilder build(false);
  BinlogDecoder decoder({});
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  auto transactions =
      feed_all(decoder, {build.format_description(), build.gtid(), build.query("DROP TABLE t")});
  REQUIRE(transactions.size() == 1);
  CHECK(transactions[0].changes.empty());
  CHECK(transactions[0].commit_position.gtid == "10111213-1415-1617-1819-1a1b1c1d1e1f:42");
  CHECK(decoder.resume_position().offset == decoder.read_position().offset);
}

TEST_CASE("DDL naming a selected table is reported as a schema change, other DDL as progress") {
  EventBuilder build(false);
  DecoderOptions options;
  options.tables.push_back({"shop", "orders", {}});
  BinlogDecoder decoder(options);
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  auto transactions = feed_all(
      decoder, {build.format_description(), build.gtid(),
                build.query("ALTER TABLE orders ADD COLUMN sneaky INT DEFAULT 7"), build.gtid(),
                build.query("CREATE TABLE `shop`.`orders_sluice_new` LIKE `shop`.`orders`"),
                build.gtid(), build.query("ALTER TABLE other.orders ADD x INT")});
  REQUIRE(transactions.size() == 3);
  REQUIRE(transactions[0].changes.size() == 1);
  const ChangeEvent& change = transactions[0].changes[0];
  CHECK(change.operation == Operation::schema_change);
  CHECK(change.table->schema == "shop");
  CHECK(change.table->table == "orders");
  CHECK(change.statement == "ALTER TABLE orders ADD COLUMN sneaky INT DEFAULT 7");
  CHECK(change.position == transactions[0].commit_position);
  CHECK(format_change(change).starts_with(
      "schema change shop.orders: ALTER TABLE orders ADD COLUMN sneaky INT DEFAULT 7 at "));
  CHECK(transactions[1].changes.empty());
  CHECK(transactions[2].changes.empty());
}

TEST_CASE("ROLLBACK discards, DDL is progress, rows without a table map are refused") {
  EventBuilder build(false);
  BinlogDecoder decoder({});
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  auto transactions =
      feed_all(decoder, {build.format_description(), build.query("BEGIN"), build.table_map(),
                         build.rows(kWriteRowsEventV2, row(1, {}, "", 0b110)),
                         build.query("ROLLBACK"), build.query("CREATE TABLE t (id INT)")});
  REQUIRE(transactions.size() == 1);
  CHECK(transactions[0].changes.empty());
  CHECK(transactions[0].commit_position == decoder.read_position());
  EventBuilder other(false);
  BinlogDecoder fresh({});
  fresh.start_at({"binlog.000007", 4, "", 0}, false);
  fresh.feed(other.format_description());
  CHECK_THROWS_AS(fresh.feed(other.rows(kWriteRowsEventV2, row(1, {}, "", 0b110))), StreamError);
}

TEST_CASE("binary JSON scalars, nesting, escapes and opaque values convert to JSON text") {
  auto text = [](Bytes bytes) {
    return json_binary_to_text(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  };
  CHECK(text({}) == "null");
  CHECK(text({0x04, 0x02}) == "false");
  CHECK(text({0x05, 0xff, 0xff}) == "-1");
  CHECK(text({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) == "18446744073709551615");
  Bytes dbl{0x0b};
  double half = -0.5;
  std::uint64_t bits;
  std::memcpy(&bits, &half, 8);
  put(dbl, bits, 8);
  CHECK(text(dbl) == "-0.5");
  CHECK(text({0x0c, 0x04, 'a', '"', '\\', '\n'}) == "\"a\\\"\\\\\\n\"");
  CHECK(text({0x02, 0x00, 0x00, 0x04, 0x00}) == "[]");
  CHECK(text({0x0f, 0xf6, 0x02, 0x01, 0x02}) == "\"base64:type246:AQI=\"");
  CHECK_THROWS_AS(text({0x0c, 0x05, 'a'}), StreamError);
  CHECK_THROWS_AS(text({0x00, 0x05, 0x00, 0x02, 0x00}), StreamError);
  CHECK_THROWS_AS(text({0x42}), StreamError);
}

TEST_CASE("XA transactions of selected tables are refused") {
  EventBuilder build(false);
  BinlogDecoder decoder({});
  decoder.start_at({"binlog.000007", 4, "", 0}, false);
  feed_all(decoder, {build.format_description(), build.query("XA START 'x'"), build.table_map(),
                     build.rows(kWriteRowsEventV2, row(1, {}, "", 0b110))});
  CHECK_THROWS_WITH_AS(decoder.feed(build.event(kMysqlXaPrepareEvent, Bytes(12, 0))),
                       "an XA transaction changed shop.docs; sluice does not follow XA "
                       "transactions",
                       StreamError);
}

TEST_CASE("signedness bits: MariaDB counts YEAR columns, MySQL does not") {
  // t (y YEAR, i TINYINT): the bitmap lists one bit per signed-capable column, in order.
  auto table_map = [](EventBuilder& build, std::uint8_t signedness) {
    Bytes body;
    put(body, 77, 6);
    put(body, 1, 2);
    body.push_back(1);
    put(body, "s");
    body.push_back(0);
    body.push_back(1);
    put(body, "t");
    body.push_back(0);
    body.push_back(2);
    body.push_back(kTypeYear);
    body.push_back(kTypeTiny);
    body.push_back(0);  // no type metadata
    body.push_back(0);  // not nullable
    body.push_back(1);  // signedness
    body.push_back(1);
    body.push_back(signedness);
    return build.event(kTableMapEvent, body);
  };
  auto rows = [](EventBuilder& build) {
    Bytes body;
    put(body, 77, 6);
    put(body, 1, 2);
    body.push_back(2);
    body.push_back(0b11);
    body.push_back(0);     // null bitmap
    body.push_back(101);   // YEAR 2001
    body.push_back(0xff);  // TINYINT -1
    return build.event(kWriteRowsEventV1, body);
  };
  for (bool mariadb : {true, false}) {
    CAPTURE(mariadb);
    EventBuilder build(false);
    BinlogDecoder decoder({});
    decoder.start_at({"bin.000001", 4, "", 0}, false);
    // MariaDB: YEAR (unsigned) then TINYINT (signed) -> 10......; MySQL: TINYINT only -> 0.......
    auto transactions =
        feed_all(decoder, {build.format_description(mariadb ? "10.11.19-MariaDB-log" : "8.0.36"),
                           build.query("BEGIN"), table_map(build, mariadb ? 0x80 : 0x00),
                           rows(build), build.xid()});
    REQUIRE(transactions.size() == 1);
    const Row& after = *transactions[0].changes.at(0).after;
    CHECK(after[0] == Value{ValueKind::number, "2001"});
    CHECK(after[1] == Value{ValueKind::number, "-1"});
  }
}

TEST_CASE("a MySQL compressed transaction (zstd or none) is unpacked and decoded") {
  for (bool zstd : {true, false}) {
    CAPTURE(zstd);
    EventBuilder build(true);
    BinlogDecoder decoder({});
    decoder.start_at({"binlog.000009", 4, "", 0}, true);
    auto transactions = feed_all(decoder, {build.format_description(), build.gtid()});
    // The inner events carry no checksums: BEGIN, table map, two inserts, XID.
    EventBuilder inner(false);
    Bytes events;
    for (const Bytes& event :
         {inner.query("BEGIN"), inner.table_map(),
          inner.rows(kWriteRowsEventV2, row(7, json_document(), "a")),
          inner.rows(kWriteRowsEventV2, row(8, {}, "b", 0b010)), inner.xid()}) {
      events.insert(events.end(), event.begin(), event.end());
    }
    Bytes payload = events;
    if (zstd) {
      payload.resize(ZSTD_compressBound(events.size()));
      payload.resize(
          ZSTD_compress(payload.data(), payload.size(), events.data(), events.size(), 3));
    }
    auto field = [](Bytes& out, std::uint8_t type, std::uint64_t value) {
      out.push_back(type);
      if (value < 251) {
        out.push_back(1);
        out.push_back(static_cast<std::uint8_t>(value));
      } else {
        out.push_back(3);
        out.push_back(0xfc);
        put(out, value, 2);
      }
    };
    Bytes body;
    field(body, 2, zstd ? 0 : 255);
    if (zstd) {
      field(body, 3, events.size());
    }
    field(body, 1, payload.size());
    body.push_back(0);
    body.insert(body.end(), payload.begin(), payload.end());
    const Bytes outer = build.event(kMysqlTransactionPayloadEvent, body);
    auto decoded = feed_all(decoder, {outer});
    REQUIRE(decoded.size() == 1);
    REQUIRE(decoded[0].changes.size() == 2);
    CHECK(decoded[0].changes[0].key_after == Row{{ValueKind::number, "7"}});
    CHECK((*decoded[0].changes[1].after)[2] == Value{ValueKind::text, "b"});
    const std::uint32_t end = static_cast<std::uint32_t>(outer[13]) |
                              static_cast<std::uint32_t>(outer[14]) << 8 |
                              static_cast<std::uint32_t>(outer[15]) << 16;
    CHECK(decoded[0].commit_position.offset == end);
    CHECK(decoded[0].commit_position.gtid == "10111213-1415-1617-1819-1a1b1c1d1e1f:42");
  }
}

TEST_CASE("heartbeats after a ROTATE leave the switch pending and never move the position") {
  // Seen under load at a 1 GiB rotation: ROTATE, then a heartbeat reporting the end of the old
  // file, then the artificial ROTATE that libmariadb 3.3 cannot parse. The stream must still
  // know that the file ended and reconnect at the start of the next one.
  EventBuilder build(true);
  BinlogDecoder decoder({});
  decoder.start_at({"bin.000002", 4, "", 0}, true);
  feed_all(decoder, {build.format_description("10.11.19-MariaDB-log"), build.rotate("bin.000003")});
  REQUIRE(decoder.file_switched());
  const auto stale = decoder.feed(build.heartbeat("bin.000002", 1078942028));
  REQUIRE(stale);
  CHECK(stale->commit_position.file == "bin.000003");
  CHECK(stale->commit_position.offset == 4);
  CHECK(decoder.file_switched());
  CHECK(decoder.read_position().file == "bin.000003");
  CHECK(decoder.read_position().offset == 4);
  CHECK(decoder.resume_position().offset == 4);

  // A heartbeat is progress at the end of the last event read, never at its own position.
  const auto progress = decoder.feed(build.heartbeat("bin.000003", 256));
  REQUIRE(progress);
  CHECK(progress->changes.empty());
  CHECK(progress->commit_position.file == "bin.000003");
  CHECK(progress->commit_position.offset == 4);

  // The first event written into the new file ends the switch.
  feed_all(decoder, {build.query("CREATE TABLE t (id INT)")});
  CHECK_FALSE(decoder.file_switched());
}

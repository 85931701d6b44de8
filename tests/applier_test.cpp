// The applier's rules of the copy invariant (docs/architecture.md §3), checked on built change
// events.
#include "src/applier.h"

#include <doctest/doctest.h>

#include <memory>

#include "src/error.h"

using sluice::Applier;
using sluice::ShadowWriter;
using sluice::replication::ChangeEvent;
using sluice::replication::Operation;
using sluice::replication::Row;
using sluice::replication::Transaction;
using sluice::replication::Value;
using sluice::replication::ValueKind;

namespace {

// Records what the applier asked to write, one entry per replace_rows call.
struct RecordingWriter : ShadowWriter {
  struct Call {
    std::vector<Row> deletes;
    std::vector<Row> rows;
    std::vector<Row> fill_from;
  };
  std::vector<Call> calls;
  void replace_rows(const std::vector<Row>& delete_keys, const std::vector<Row>& rows,
                    const std::vector<Row>& fill_from) override {
    calls.push_back({delete_keys, rows, fill_from});
  }
};

Value num(int n) {
  return Value{ValueKind::number, std::to_string(n)};
}
Value text(const char* s) {
  return Value{ValueKind::text, s};
}

// Source rows are (id, unique_code, payload); the shadow keeps (id, payload).
Row image(int id, int code, const char* payload) {
  return {num(id), num(code), text(payload)};
}

ChangeEvent insert(Row after) {
  return ChangeEvent{nullptr, Operation::insert, {}, {}, std::nullopt, std::move(after), {}, {}};
}
ChangeEvent update(Row before, Row after) {
  return ChangeEvent{nullptr,           Operation::update, {}, {},
                     std::move(before), std::move(after),  {}, {}};
}
ChangeEvent erase(Row before) {
  return ChangeEvent{nullptr, Operation::erase, {}, {}, std::move(before), std::nullopt, {}, {}};
}

Transaction txn(std::vector<ChangeEvent> changes) {
  return Transaction{std::move(changes), {}, {}};
}

struct Fixture {
  RecordingWriter writer;
  Applier applier{writer, {0}, {0, 2}};
};

}  // namespace

TEST_CASE("changes at or below the watermark are applied; above it they are held") {
  Fixture f;
  f.applier.advance_watermark({num(10)});
  f.applier.add(txn({insert(image(5, 1, "a")), insert(image(11, 2, "b"))}));
  CHECK(f.applier.pending() == 1);
  CHECK(f.applier.held() == 1);
  CHECK(f.applier.flush() == 1);
  REQUIRE(f.writer.calls.size() == 1);
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(5), text("a")}});
}

TEST_CASE("a delete of a row the copier has not committed yet is held, never applied early") {
  // Applied early, the delete would be undone by the chunk whose snapshot still saw the row.
  Fixture f;
  f.applier.add(txn({erase(image(7, 1, "x"))}));
  CHECK(f.applier.flush() == 0);
  CHECK(f.writer.calls.empty());
  f.applier.advance_watermark({num(6)});
  CHECK(f.applier.flush() == 0);
  f.applier.advance_watermark({num(7)});
  CHECK(f.applier.flush() == 1);
  REQUIRE(f.writer.calls.size() == 1);
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(7)}});
  CHECK(f.writer.calls[0].rows.empty());
}

TEST_CASE("hot keys collapse to their latest image") {
  Fixture f;
  f.applier.finish_copy();
  f.applier.add(txn({insert(image(1, 1, "v1"))}));
  f.applier.add(txn({update(image(1, 1, "v1"), image(1, 1, "v2"))}));
  f.applier.add(txn({update(image(1, 1, "v2"), image(1, 1, "v3"))}));
  CHECK(f.applier.flush() == 1);
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(1), text("v3")}});
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(1)}});
}

TEST_CASE("a key change deletes the old key and writes the new one") {
  Fixture f;
  f.applier.finish_copy();
  f.applier.add(txn({update(image(1, 1, "a"), image(2, 1, "a"))}));
  CHECK(f.applier.flush() == 2);
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(1)}, {num(2)}});
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(2), text("a")}});
}

TEST_CASE("rows swapping a unique value are deleted and re-inserted in one write") {
  Fixture f;
  f.applier.finish_copy();
  f.applier.add(txn({update(image(1, 100, "a"), image(1, 200, "a")),
                     update(image(2, 200, "b"), image(2, 100, "b"))}));
  f.applier.flush();
  REQUIRE(f.writer.calls.size() == 1);
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(1)}, {num(2)}});
  CHECK(f.writer.calls[0].rows.size() == 2);
}

TEST_CASE("an insert then delete of the same key ends as a delete") {
  Fixture f;
  f.applier.finish_copy();
  f.applier.add(txn({insert(image(3, 1, "a")), erase(image(3, 1, "a"))}));
  f.applier.flush();
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(3)}});
  CHECK(f.writer.calls[0].rows.empty());
}

TEST_CASE("advancing the watermark releases exactly the held keys up to it") {
  Fixture f;
  f.applier.add(
      txn({insert(image(3, 1, "a")), insert(image(5, 2, "b")), insert(image(9, 3, "c"))}));
  CHECK(f.applier.held() == 3);
  f.applier.advance_watermark({num(5)});
  CHECK(f.applier.held() == 1);
  CHECK(f.applier.pending() == 2);
  f.applier.finish_copy();
  CHECK(f.applier.held() == 0);
  CHECK(f.applier.flush() == 3);
  CHECK(f.applier.applied() == 3);
}

TEST_CASE("events without full images are refused") {
  Fixture f;
  ChangeEvent partial = update(image(1, 1, "a"), image(1, 1, "b"));
  partial.before.reset();
  CHECK_THROWS_AS(f.applier.add(txn({partial})), sluice::Error);
}

namespace {

Value unchanged() {
  return Value{ValueKind::unchanged, {}};
}

// PostgreSQL's default replica identity: an update or delete carries the key, no before image.
std::shared_ptr<const sluice::replication::TableDescription> keyed_by_id() {
  auto table = std::make_shared<sluice::replication::TableDescription>();
  table->key_columns = {0};
  return table;
}

ChangeEvent pg_update(int old_id, Row after) {
  return ChangeEvent{
      keyed_by_id(), Operation::update, {num(old_id)}, {}, std::nullopt, std::move(after), {}, {}};
}

ChangeEvent pg_erase(int id) {
  return ChangeEvent{keyed_by_id(), Operation::erase, {num(id)}, {},
                     std::nullopt,  std::nullopt,     {},        {}};
}

}  // namespace

TEST_CASE("without a before image the old key comes from the event's key") {
  Fixture f;
  f.applier.finish_copy();
  f.applier.add(txn({pg_update(1, image(2, 1, "a")), pg_erase(5)}));
  f.applier.flush();
  REQUIRE(f.writer.calls.size() == 1);
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(1)}, {num(2)}, {num(5)}});
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(2), text("a")}});
}

TEST_CASE("an unchanged TOAST value is taken from the key's previous image") {
  Fixture f;
  f.applier.finish_copy();
  f.applier.add(txn({insert(image(1, 1, "big"))}));
  f.applier.add(txn({pg_update(1, {num(1), num(2), unchanged()})}));
  f.applier.flush();
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(1), text("big")}});
  CHECK(f.writer.calls[0].fill_from == std::vector<Row>{{}});
}

TEST_CASE("an unchanged TOAST value not in memory is read from the shadow row it was in") {
  Fixture f;
  f.applier.finish_copy();
  // Moved from key 1 to key 2: the value sits in the shadow row of key 1 until this write.
  f.applier.add(txn({pg_update(1, {num(2), num(1), unchanged()})}));
  f.applier.add(txn({pg_update(2, {num(2), num(3), unchanged()})}));
  f.applier.flush();
  REQUIRE(f.writer.calls.size() == 1);
  CHECK(f.writer.calls[0].deletes == std::vector<Row>{{num(1)}, {num(2)}});
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(2), unchanged()}});
  CHECK(f.writer.calls[0].fill_from == std::vector<Row>{{num(1)}});
}

TEST_CASE("a held key keeps its place when a later change finds it below the watermark") {
  Fixture f;
  f.applier.add(txn({insert(image(7, 1, "a"))}));
  f.applier.advance_watermark({num(7)});
  f.applier.add(txn({pg_update(7, image(7, 1, "b"))}));
  CHECK(f.applier.flush() == 1);
  CHECK(f.writer.calls[0].rows == std::vector<Row>{{num(7), text("b")}});
}

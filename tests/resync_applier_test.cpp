// The MySQL applier's rules of the copy invariant (docs/architecture.md §3): every changed key,
// before and after, is re-synchronised from the source once the change is visible; nothing is
// held for the copy and no two keys are compared by meaning.
#include "src/resync_applier.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "src/error.h"

using sluice::ResyncApplier;
using sluice::ShadowResync;
using sluice::replication::ChangeEvent;
using sluice::replication::Operation;
using sluice::replication::Position;
using sluice::replication::Row;
using sluice::replication::Transaction;
using sluice::replication::Value;
using sluice::replication::ValueKind;

namespace {

// Records each resync the applier asks for.
struct RecordingResync : ShadowResync {
  struct Call {
    std::vector<Row> keys;
    Position through;
  };
  std::vector<Call> calls;
  void resync(const std::vector<Row>& keys, const Position& through) override {
    calls.push_back({keys, through});
  }
};

Value text(const char* s) {
  return Value{ValueKind::text, s};
}

// Source rows are (key, payload).
Row row(const char* key, const char* payload) {
  return {text(key), text(payload)};
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

Transaction txn(std::vector<ChangeEvent> changes, std::uint64_t offset) {
  return Transaction{std::move(changes), Position{"bin.000001", offset, "", 0}, {}};
}

struct Fixture {
  RecordingResync shadow;
  ResyncApplier applier{shadow, {0}};
};

}  // namespace

TEST_CASE("a key change re-synchronises the old and the new key, through the last commit") {
  Fixture f;
  f.applier.add(txn({update(row("k1", "x"), row("k2", "x"))}, 100));
  f.applier.add(txn({insert(row("k3", "y"))}, 200));
  CHECK(f.applier.pending() == 3);
  CHECK(f.applier.flush() == 3);
  REQUIRE(f.shadow.calls.size() == 1);
  CHECK(f.shadow.calls[0].keys == std::vector<Row>{{text("k1")}, {text("k2")}, {text("k3")}});
  CHECK(f.shadow.calls[0].through.offset == 200);
  CHECK(f.applier.flush() == 0);
  CHECK(f.shadow.calls.size() == 1);
}

TEST_CASE("a key changing between two collation-equal spellings sends both spellings") {
  Fixture f;
  f.applier.add(txn({update(row("a", "x"), row("A", "x"))}, 10));
  f.applier.flush();
  REQUIRE(f.shadow.calls.size() == 1);
  // The server, not sluice, decides that they are one key.
  CHECK(f.shadow.calls[0].keys.size() == 2);
}

TEST_CASE("a delete of a row the copier has not reached is not held: nothing ever is") {
  Fixture f;
  f.applier.advance_watermark({text("a")});
  f.applier.add(txn({erase(row("zzz", "x"))}, 10));
  CHECK(f.applier.held() == 0);
  CHECK(f.applier.flush() == 1);
  CHECK(f.shadow.calls[0].keys == std::vector<Row>{{text("zzz")}});
}

TEST_CASE("rows swapping a unique value in one transaction are re-synchronised in one batch") {
  Fixture f;
  f.applier.add(txn({update(row("m", "5"), row("m", "tmp")), update(row("j", "6"), row("j", "5")),
                     update(row("m", "tmp"), row("m", "6"))},
                    10));
  f.applier.flush();
  REQUIRE(f.shadow.calls.size() == 1);
  CHECK(f.shadow.calls[0].keys.size() == 2);
}

TEST_CASE("hot keys are sent once per batch; an event without a before image is refused") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    f.applier.add(txn({update(row("hot", "1"), row("hot", "2"))}, 10 + i));
  }
  CHECK(f.applier.pending() == 1);
  ChangeEvent partial = update(row("a", "x"), row("a", "y"));
  partial.before.reset();
  CHECK_THROWS_AS(f.applier.add(txn({partial}, 20)), sluice::Error);
}

TEST_CASE("past the in-memory limit keys go to a temporary file and all are re-synchronised") {
  RecordingResync shadow;
  ResyncApplier applier{shadow, {0}, 2};
  for (int i = 0; i < 7; ++i) {
    const std::string key = "k" + std::to_string(i);
    applier.add(txn({insert(row(key.c_str(), "x"))}, 100 + i));
    // Memory stays bounded however many keys wait; the stream is never paused for them.
    CHECK(applier.in_memory() < 2);
    CHECK(applier.pending() == static_cast<std::size_t>(i + 1));
  }
  CHECK(applier.spilled() > 0);
  CHECK(applier.flush() == 7);
  std::set<std::string> written;
  for (const auto& call : shadow.calls) {
    CHECK(call.keys.size() <= ResyncApplier::kMinBatch);
    // Every batch waits for the last change taken, not only for the changes of its own keys.
    CHECK(call.through.offset == 106);
    for (const Row& key : call.keys) {
      written.insert(key[0].text);
    }
  }
  CHECK(written == std::set<std::string>{"k0", "k1", "k2", "k3", "k4", "k5", "k6"});
  CHECK(applier.pending() == 0);
  CHECK(applier.flush() == 0);

  // The file starts over after a flush: the next keys are neither lost nor repeated.
  shadow.calls.clear();
  applier.add(txn({update(row("a", "x"), row("b", "x")), insert(row("c", "y"))}, 200));
  CHECK(applier.flush() == 3);
  written.clear();
  for (const auto& call : shadow.calls) {
    for (const Row& key : call.keys) {
      written.insert(key[0].text);
    }
  }
  CHECK(written == std::set<std::string>{"a", "b", "c"});
}

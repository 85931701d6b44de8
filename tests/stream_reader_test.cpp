#include "src/stream_reader.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "replication/stream_error.h"

using namespace std::chrono_literals;
using sluice::StreamReader;
using sluice::replication::ChangeStream;
using sluice::replication::Position;
using sluice::replication::StreamError;
using sluice::replication::Transaction;

namespace {

// Hands out `count` transactions at offsets 1..count, then fails; records confirmations.
struct ScriptedStream : ChangeStream {
  int count;
  std::atomic<int> next_offset{1};
  std::atomic<std::uint64_t> confirmed{0};
  explicit ScriptedStream(int n) : count(n) {}
  std::optional<Transaction> next(std::chrono::milliseconds) override {
    const int offset = next_offset++;
    if (offset > count) {
      throw StreamError("the binlog was purged");
    }
    Transaction transaction;
    transaction.commit_position.file = "bin.000001";
    transaction.commit_position.offset = static_cast<std::uint64_t>(offset);
    return transaction;
  }
  void confirm(const Position& position) override { confirmed = position.offset; }
};

}  // namespace

TEST_CASE("the reader delivers every transaction in order, then the stream's error") {
  ScriptedStream stream(1000);
  StreamReader reader(stream);
  std::uint64_t expected = 1;
  bool failed = false;
  while (!failed) {
    try {
      for (const Transaction& transaction : reader.take(100ms)) {
        CHECK(transaction.commit_position.offset == expected);
        ++expected;
      }
    } catch (const StreamError& error) {
      failed = true;
      CHECK(std::string(error.what()) == "the binlog was purged");
    }
  }
  CHECK(expected == 1001);
}

TEST_CASE("confirmations reach the stream from the reading thread") {
  ScriptedStream stream(1'000'000);
  StreamReader reader(stream);
  reader.take(100ms);
  reader.confirm(Position{"bin.000001", 42, "", 0});
  for (int i = 0; i < 200 && stream.confirmed.load() != 42; ++i) {
    reader.take(10ms);
  }
  CHECK(stream.confirmed.load() == 42);
}

namespace {

// Hands out transactions of one insert whose image holds a value of `value_bytes` bytes.
struct WideStream : ChangeStream {
  std::size_t value_bytes;
  std::atomic<int> handed_out{0};
  explicit WideStream(std::size_t bytes) : value_bytes(bytes) {}
  std::optional<Transaction> next(std::chrono::milliseconds) override {
    Transaction transaction;
    sluice::replication::ChangeEvent insert;
    insert.after = sluice::replication::Row{
        {sluice::replication::ValueKind::text, std::string(value_bytes, 'x')}};
    transaction.changes.push_back(std::move(insert));
    ++handed_out;
    return transaction;
  }
  void confirm(const Position&) override {}
};

}  // namespace

TEST_CASE("a transaction's approximate size grows with its values") {
  WideStream narrow(10);
  WideStream wide(100'000);
  const std::size_t small = sluice::approximate_bytes(*narrow.next(0ms));
  const std::size_t large = sluice::approximate_bytes(*wide.next(0ms));
  CHECK(small < 1'000);
  CHECK(large >= 100'000);
  CHECK(large < 101'000);
}

TEST_CASE("the reader pauses once the queue holds its bytes' worth, however few transactions") {
  // 1 MB a transaction: the byte bound (64 MiB) stops the reader long before the count bound.
  WideStream stream(1'000'000);
  StreamReader reader(stream);
  std::this_thread::sleep_for(500ms);
  const int queued = stream.handed_out.load();
  CHECK(queued >= 60);
  CHECK(queued <= 70);
  CHECK(reader.take(100ms).size() == static_cast<std::size_t>(queued));
}

namespace {

// Hands out `count` transactions of `changes` changes each, then nothing.
struct SizedStream : ChangeStream {
  int count;
  std::size_t changes;
  std::atomic<int> handed_out{0};
  SizedStream(int n, std::size_t per_transaction) : count(n), changes(per_transaction) {}
  std::optional<Transaction> next(std::chrono::milliseconds wait) override {
    if (handed_out.load() >= count) {
      std::this_thread::sleep_for(wait);
      return std::nullopt;
    }
    Transaction transaction;
    transaction.commit_position.offset = static_cast<std::uint64_t>(++handed_out);
    transaction.changes.resize(changes);
    return transaction;
  }
  void confirm(const Position&) override {}
};

}  // namespace

TEST_CASE("a take bounded in changes hands out whole transactions, in order, losing none") {
  SizedStream stream(10, 3);
  StreamReader reader(stream);
  for (int i = 0; i < 500 && stream.handed_out.load() < 10; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(stream.handed_out.load() == 10);
  std::this_thread::sleep_for(20ms);  // the last one queued
  std::uint64_t expected = 1;
  std::vector<std::size_t> sizes;
  while (expected <= 10) {
    const std::vector<Transaction> taken = reader.take(100ms, 7);
    REQUIRE_FALSE(taken.empty());
    sizes.push_back(taken.size());
    for (const Transaction& transaction : taken) {
      CHECK(transaction.commit_position.offset == expected);
      CHECK(transaction.changes.size() == 3);
      ++expected;
    }
  }
  // 7 changes need three transactions of 3 (the one that reaches the bound is included).
  CHECK(sizes == std::vector<std::size_t>{3, 3, 3, 1});
  // A transaction larger than the bound still comes out whole.
  SizedStream wide(1, 50);
  StreamReader wide_reader(wide);
  std::vector<Transaction> one;
  for (int i = 0; i < 100 && one.empty(); ++i) {
    one = wide_reader.take(20ms, 7);
  }
  REQUIRE(one.size() == 1);
  CHECK(one.front().changes.size() == 50);
}

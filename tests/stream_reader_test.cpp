#include "src/stream_reader.h"

#include <doctest/doctest.h>

#include <atomic>

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

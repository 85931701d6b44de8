#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "replication/change_stream.h"

namespace sluice {

// Reads a ChangeStream on a thread of its own, so the copy never waits for the change log (which
// also carries the copy's own inserts into the shadow table) and the stream keeps up while a
// chunk runs. The queue is bounded, in transactions and in bytes (approximate_bytes): when the
// migrator falls behind (on PostgreSQL nothing is taken while the copy runs), the reader pauses
// and the server keeps the log, so memory stays flat however busy the table is.
// About how much memory `transaction` takes: its row images' values and the structures holding
// them. What the reader's byte bound counts.
std::size_t approximate_bytes(const replication::Transaction& transaction);

class StreamReader {
 public:
  explicit StreamReader(replication::ChangeStream& stream);
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // The transactions read so far, in commit order: all of them, or the first ones holding at
  // least `most_changes` row changes between them (at least one transaction); the rest stay
  // queued for the next take. Waits up to `wait` when none has arrived. Once they are all taken,
  // rethrows the error that stopped the stream.
  std::vector<replication::Transaction> take(
      std::chrono::milliseconds wait,
      std::size_t most_changes = std::numeric_limits<std::size_t>::max());

  // Passes a confirmation (see ChangeStream::confirm) to the reading thread.
  void confirm(const replication::Position& position);

 private:
  void run();

  replication::ChangeStream& stream_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::condition_variable drained_;
  std::deque<replication::Transaction> queue_;
  std::size_t queued_bytes_ = 0;  // approximate_bytes of queue_
  std::optional<replication::Position> to_confirm_;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice

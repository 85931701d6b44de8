#include "src/stream_reader.h"

#include <algorithm>

namespace sluice {
namespace {

constexpr std::size_t kMaxQueuedTransactions = 50'000;
// Measured: 50,000 sysbench transactions of four full-image changes took about 250 MB.
constexpr std::size_t kMaxQueuedBytes = 64u << 20;
// Short, so a position the stream has reached is reported promptly to a waiting drain.
constexpr std::chrono::milliseconds kReadWait{10};

std::size_t row_bytes(const replication::Row& row) {
  std::size_t bytes = sizeof(replication::Row) + row.size() * sizeof(replication::Value);
  for (const replication::Value& value : row) {
    // Short strings live inside the Value (the small-string buffer).
    bytes += value.text.capacity() > 15 ? value.text.capacity() : 0;
  }
  return bytes;
}

}  // namespace

std::size_t approximate_bytes(const replication::Transaction& transaction) {
  std::size_t bytes = sizeof(replication::Transaction);
  for (const replication::ChangeEvent& change : transaction.changes) {
    bytes += sizeof(replication::ChangeEvent) + row_bytes(change.key_before) +
             row_bytes(change.key_after) + change.statement.size();
    for (const std::optional<replication::Row>* image : {&change.before, &change.after}) {
      bytes += *image ? row_bytes(**image) : 0;
    }
  }
  return bytes;
}

StreamReader::StreamReader(replication::ChangeStream& stream)
    : stream_(stream), thread_([this] { run(); }) {}

StreamReader::~StreamReader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  drained_.notify_all();
  thread_.join();
}

void StreamReader::run() {
  try {
    while (true) {
      std::optional<replication::Position> confirm;
      {
        std::unique_lock lock(mutex_);
        drained_.wait(lock, [&] {
          return stopping_ ||
                 (queue_.size() < kMaxQueuedTransactions && queued_bytes_ < kMaxQueuedBytes);
        });
        if (stopping_) {
          return;
        }
        confirm.swap(to_confirm_);
      }
      if (confirm) {
        stream_.confirm(*confirm);
      }
      std::optional<replication::Transaction> transaction = stream_.next(kReadWait);
      if (transaction) {
        const std::size_t bytes = approximate_bytes(*transaction);
        std::lock_guard lock(mutex_);
        queued_bytes_ += bytes;
        queue_.push_back(std::move(*transaction));
        arrived_.notify_all();
      }
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    error_ = std::current_exception();
    arrived_.notify_all();
  }
}

std::vector<replication::Transaction> StreamReader::take(std::chrono::milliseconds wait,
                                                         std::size_t most_changes) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, wait, [&] { return !queue_.empty() || error_; });
  // What was read before the stream failed is still good: hand it out first.
  if (queue_.empty() && error_) {
    std::rethrow_exception(error_);
  }
  std::vector<replication::Transaction> taken;
  std::size_t changes = 0;
  while (!queue_.empty() && changes < most_changes) {
    changes += queue_.front().changes.size();
    taken.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (queue_.empty()) {
    queued_bytes_ = 0;
  } else {
    for (const replication::Transaction& transaction : taken) {
      queued_bytes_ -= std::min(queued_bytes_, approximate_bytes(transaction));
    }
  }
  drained_.notify_all();
  return taken;
}

void StreamReader::confirm(const replication::Position& position) {
  std::lock_guard lock(mutex_);
  to_confirm_ = position;
}

}  // namespace sluice

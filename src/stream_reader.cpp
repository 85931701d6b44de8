#include "src/stream_reader.h"

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

std::vector<replication::Transaction> StreamReader::take(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, wait, [&] { return !queue_.empty() || error_; });
  // What was read before the stream failed is still good: hand it out first.
  if (queue_.empty() && error_) {
    std::rethrow_exception(error_);
  }
  std::vector<replication::Transaction> taken(std::make_move_iterator(queue_.begin()),
                                              std::make_move_iterator(queue_.end()));
  queue_.clear();
  queued_bytes_ = 0;
  drained_.notify_all();
  return taken;
}

void StreamReader::confirm(const replication::Position& position) {
  std::lock_guard lock(mutex_);
  to_confirm_ = position;
}

}  // namespace sluice

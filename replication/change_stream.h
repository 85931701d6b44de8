#pragma once

#include <chrono>
#include <optional>

#include "replication/change_event.h"

namespace sluice::replication {

// A live, ordered feed of committed transactions touching a chosen set of tables, read from the
// server's change log (binlog or logical replication slot). Implementations reconnect on their
// own after a dropped connection and resume from the last confirmed position without delivering
// a committed transaction twice past that point or losing one.
class ChangeStream {
 public:
  virtual ~ChangeStream() = default;

  // Waits up to `timeout` for the next committed transaction. Returns nullopt on timeout. A
  // transaction with no changes only reports progress of the read position.
  // Throws StreamError when the stream cannot continue (log purged, slot lost, auth failure).
  virtual std::optional<Transaction> next(std::chrono::milliseconds timeout) = 0;

  // Tells the stream that every change up to and including `position` is durably applied by the
  // caller; a reconnect resumes after it, and a PostgreSQL slot may release WAL before it.
  virtual void confirm(const Position& position) = 0;

  // Leaves the stream's server-side objects (a PostgreSQL slot and publication) in place when it
  // is destroyed, so that a resumed run reads on from them. The binlog needs none.
  virtual void keep_server_objects() {}
};

}  // namespace sluice::replication

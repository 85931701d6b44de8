#pragma once

#include <stdexcept>

namespace sluice::replication {

// Thrown when a change stream cannot go on: the wanted binlog was purged, the slot was dropped
// or invalidated, the server refused the replication connection. One sentence, no secrets.
class StreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when a stream lost its connection and could not get it back within its reconnect
// timeout (server down, network gone). Unlike other StreamErrors the log is still there: a
// later run can read on from the last confirmed position.
class StreamDisconnected : public StreamError {
 public:
  using StreamError::StreamError;
};

}  // namespace sluice::replication

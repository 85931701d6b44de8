#pragma once

#include <stdexcept>

namespace sluice::replication {

// Thrown when a change stream cannot go on: the wanted binlog was purged, the slot was dropped
// or invalidated, the server refused the replication connection. One sentence, no secrets.
class StreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sluice::replication

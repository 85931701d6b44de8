#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <vector>

#include "replication/change_event.h"

namespace sluice {

// An append-only temporary file of keys (rows of values), read back in order once. It lets an
// applier keep a bounded number of keys in memory however many changes wait for the next flush
// (docs/architecture.md §3.1, rule 7). The file is unnamed (std::tmpfile): the system removes
// it when it is closed or the process ends, killed or not. Keys are written as they are, kind
// and bytes; nothing is compressed (keys are small, and the file lives only until the flush).
class KeySpill {
 public:
  KeySpill() = default;
  KeySpill(const KeySpill&) = delete;
  KeySpill& operator=(const KeySpill&) = delete;

  // Appends `keys`; reads and writes may alternate. Throws Error when the temporary file cannot be
  // created or written.
  void write(const std::vector<replication::Row>& keys);

  // Keys written and not yet read back.
  std::size_t size() const { return written_ - read_; }

  // The next at most `count` keys in the order they were written; empty once all were read.
  // After the last one the file is emptied, ready for new keys. Throws Error on a short read.
  std::vector<replication::Row> read(std::size_t count);

 private:
  struct Close {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::unique_ptr<std::FILE, Close> file_;
  std::size_t written_ = 0;
  std::size_t read_ = 0;
  long read_offset_ = 0;  // where the next read starts
};

}  // namespace sluice

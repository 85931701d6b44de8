#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sluice::replication::mysql {

// A binlog file read from disk (the server's `bin.000001`), for tests and benchmarks that decode
// captured events without a server.
class BinlogFile {
 public:
  // Reads the whole file. Throws StreamError when it cannot be read, lacks the binlog magic
  // bytes or ends inside an event.
  explicit BinlogFile(const std::string& path);

  // Every event in file order: header, body and checksum, as BinlogDecoder::feed takes them.
  const std::vector<std::span<const std::uint8_t>>& events() const { return events_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::vector<std::span<const std::uint8_t>> events_;
};

}  // namespace sluice::replication::mysql

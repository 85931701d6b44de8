#include "replication/mysql/binlog_file.h"

#include <fstream>
#include <iterator>

#include "replication/mysql/binlog_event.h"
#include "replication/stream_error.h"

namespace sluice::replication::mysql {

BinlogFile::BinlogFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw StreamError("cannot read binlog file " + path);
  }
  bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  static constexpr std::uint8_t kMagic[4] = {0xfe, 'b', 'i', 'n'};
  if (bytes_.size() < 4 || !std::equal(kMagic, kMagic + 4, bytes_.begin())) {
    throw StreamError(path + " is not a binlog file (no magic bytes)");
  }
  std::size_t at = 4;
  while (at < bytes_.size()) {
    const std::span<const std::uint8_t> rest(bytes_.data() + at, bytes_.size() - at);
    const EventHeader header = parse_header(rest);
    events_.push_back(rest.first(header.event_size));
    at += header.event_size;
  }
}

}  // namespace sluice::replication::mysql

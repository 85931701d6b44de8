#include "replication/mysql/binlog_event.h"

#include <cstdio>
#include <tuple>

#include "replication/mysql/byte_reader.h"
#include "replication/stream_error.h"

namespace sluice::replication::mysql {
namespace {

constexpr std::size_t kServerVersionLength = 50;
constexpr std::uint8_t kChecksumOff = 0;
constexpr std::uint8_t kChecksumCrc32 = 1;
constexpr std::uint8_t kMariadbGtidStandalone = 1;

ByteReader body_reader(std::span<const std::uint8_t> event, bool checksum, const char* what) {
  const EventHeader header = parse_header(event);
  const std::size_t trailer = checksum ? kChecksumSize : 0;
  if (header.event_size < kEventHeaderSize + trailer) {
    throw StreamError(std::string("binlog ") + what + " event is shorter than its header");
  }
  return ByteReader(event.data() + kEventHeaderSize,
                    header.event_size - kEventHeaderSize - trailer);
}

// Servers older than MySQL 5.6.1 / MariaDB 5.3 write no checksum-algorithm byte.
bool has_checksum_algorithm(const std::string& version) {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::sscanf(version.c_str(), "%d.%d.%d", &major, &minor, &patch);
  if (version.find("MariaDB") != std::string::npos) {
    return std::tie(major, minor) >= std::make_tuple(5, 3);
  }
  return std::tie(major, minor, patch) >= std::make_tuple(5, 6, 1);
}

}  // namespace

EventHeader parse_header(std::span<const std::uint8_t> event) {
  ByteReader reader(event.data(), event.size());
  EventHeader header;
  header.timestamp = static_cast<std::uint32_t>(reader.uint(4, "event header"));
  header.type = reader.u8("event header");
  header.server_id = static_cast<std::uint32_t>(reader.uint(4, "event header"));
  header.event_size = static_cast<std::uint32_t>(reader.uint(4, "event header"));
  header.next_position = static_cast<std::uint32_t>(reader.uint(4, "event header"));
  header.flags = static_cast<std::uint16_t>(reader.uint(2, "event header"));
  if (header.event_size < kEventHeaderSize || header.event_size > event.size()) {
    throw StreamError("binlog event of type " + std::to_string(header.type) + " claims " +
                      std::to_string(header.event_size) + " bytes but " +
                      std::to_string(event.size()) + " were received");
  }
  return header;
}

FormatDescription parse_format_description(std::span<const std::uint8_t> event) {
  const EventHeader header = parse_header(event);
  ByteReader reader(event.data() + kEventHeaderSize, header.event_size - kEventHeaderSize);
  FormatDescription format;
  format.binlog_version = static_cast<std::uint16_t>(reader.uint(2, "format description"));
  std::string_view version = reader.bytes(kServerVersionLength, "format description");
  format.server_version = std::string(version.substr(0, version.find('\0')));
  reader.skip(4, "format description");
  const std::uint8_t header_length = reader.u8("format description");
  if (header_length != kEventHeaderSize) {
    throw StreamError("binlog format description announces a " + std::to_string(header_length) +
                      "-byte event header; only 19-byte headers (binlog version 4) are supported");
  }
  std::size_t type_count = reader.remaining();
  if (has_checksum_algorithm(format.server_version)) {
    if (type_count < 1 + kChecksumSize) {
      throw StreamError("binlog format description is truncated");
    }
    type_count -= 1 + kChecksumSize;
    const std::uint8_t algorithm = reader.current()[type_count];
    if (algorithm != kChecksumOff && algorithm != kChecksumCrc32) {
      throw StreamError("binlog uses checksum algorithm " + std::to_string(algorithm) +
                        "; only CRC32 and NONE are supported");
    }
    format.checksum = algorithm == kChecksumCrc32;
  }
  for (std::size_t type = 1; type <= type_count && type < format.post_header_lengths.size();
       ++type) {
    format.post_header_lengths[type] = reader.u8("format description");
  }
  return format;
}

Rotate parse_rotate(std::span<const std::uint8_t> event, bool checksum) {
  ByteReader reader = body_reader(event, checksum, "rotate");
  Rotate rotate;
  rotate.position = reader.uint(8, "rotate");
  rotate.file = std::string(reader.bytes(reader.remaining(), "rotate"));
  return rotate;
}

Gtid parse_mariadb_gtid(std::span<const std::uint8_t> event) {
  const EventHeader header = parse_header(event);
  ByteReader reader(event.data() + kEventHeaderSize, header.event_size - kEventHeaderSize);
  const std::uint64_t sequence = reader.uint(8, "gtid");
  const std::uint64_t domain = reader.uint(4, "gtid");
  const std::uint8_t flags = reader.u8("gtid");
  Gtid gtid;
  gtid.text = std::to_string(domain) + "-" + std::to_string(header.server_id) + "-" +
              std::to_string(sequence);
  gtid.standalone = (flags & kMariadbGtidStandalone) != 0;
  return gtid;
}

Gtid parse_mysql_gtid(std::span<const std::uint8_t> event) {
  const EventHeader header = parse_header(event);
  ByteReader reader(event.data() + kEventHeaderSize, header.event_size - kEventHeaderSize);
  reader.skip(1, "gtid");
  std::string_view sid = reader.bytes(16, "gtid");
  const std::uint64_t number = reader.uint(8, "gtid");
  static constexpr const char* kHex = "0123456789abcdef";
  Gtid gtid;
  for (std::size_t i = 0; i < sid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      gtid.text += '-';
    }
    const auto byte = static_cast<std::uint8_t>(sid[i]);
    gtid.text += kHex[byte >> 4];
    gtid.text += kHex[byte & 0xf];
  }
  gtid.text += ":" + std::to_string(number);
  return gtid;
}

Query parse_query(std::span<const std::uint8_t> event, bool checksum) {
  ByteReader reader = body_reader(event, checksum, "query");
  reader.skip(8, "query");  // thread id, execution time
  const std::uint8_t schema_length = reader.u8("query");
  reader.skip(2, "query");  // error code
  const std::size_t status_length = reader.uint(2, "query");
  reader.skip(status_length, "query");
  Query query;
  query.schema = std::string(reader.bytes(schema_length, "query"));
  reader.skip(1, "query");  // the schema's terminating zero
  query.text = std::string(reader.bytes(reader.remaining(), "query"));
  return query;
}

}  // namespace sluice::replication::mysql

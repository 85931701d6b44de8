#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace sluice::replication::mysql {

// Binlog event type codes (MySQL and MariaDB share the numbering below 160).
enum EventType : std::uint8_t {
  kQueryEvent = 2,
  kStopEvent = 3,
  kRotateEvent = 4,
  kFormatDescriptionEvent = 15,
  kXidEvent = 16,
  kTableMapEvent = 19,
  kWriteRowsEventV1 = 23,
  kUpdateRowsEventV1 = 24,
  kDeleteRowsEventV1 = 25,
  kHeartbeatEvent = 27,
  kWriteRowsEventV2 = 30,
  kUpdateRowsEventV2 = 31,
  kDeleteRowsEventV2 = 32,
  kMysqlGtidEvent = 33,
  kMysqlAnonymousGtidEvent = 34,
  kMysqlXaPrepareEvent = 38,  // MariaDB ≥ 10.5 uses the same code
  kMysqlPartialUpdateRowsEvent = 39,
  kMysqlTransactionPayloadEvent = 40,
  kMariadbGtidEvent = 162,
  kMariadbFirstCompressedRowsEvent = 166,  // 166-171: write/update/delete, v0 and v1
  kMariadbLastCompressedRowsEvent = 171,
};

constexpr std::size_t kEventHeaderSize = 19;
constexpr std::size_t kChecksumSize = 4;
constexpr std::uint16_t kArtificialEventFlag = 0x20;

// The 19-byte common header every event starts with.
struct EventHeader {
  std::uint32_t timestamp = 0;
  std::uint8_t type = 0;
  std::uint32_t server_id = 0;
  std::uint32_t event_size = 0;
  // End position of this event in its binlog file; 0 for artificial events that are not in the
  // file (the ROTATE and FORMAT_DESCRIPTION a dump starts with).
  std::uint32_t next_position = 0;
  std::uint16_t flags = 0;
};

// Parses the header of `event` (header + body + optional checksum). Throws StreamError when the
// bytes are shorter than a header or than the size the header claims.
EventHeader parse_header(std::span<const std::uint8_t> event);

// What a FORMAT_DESCRIPTION event says about the events that follow it.
struct FormatDescription {
  std::uint16_t binlog_version = 4;
  std::string server_version;
  // Per event type, the length of its fixed post-header (index = type code).
  std::array<std::uint8_t, 256> post_header_lengths{};
  // Whether each event ends in a CRC32 (binlog_checksum=CRC32) or not (NONE).
  bool checksum = false;
};

// Parses a FORMAT_DESCRIPTION event (header included). Throws StreamError on malformed bytes or
// an unknown checksum algorithm.
FormatDescription parse_format_description(std::span<const std::uint8_t> event);

// A ROTATE event: the binlog continues in `file` at `position`.
struct Rotate {
  std::uint64_t position = 0;
  std::string file;
};
// `checksum` says whether the event carries a trailing CRC32 (not part of the name).
Rotate parse_rotate(std::span<const std::uint8_t> event, bool checksum);

// A global transaction id as the server prints it: MariaDB "domain-server-sequence", MySQL
// "uuid:number".
struct Gtid {
  std::string text;
  // MariaDB: the transaction is a single statement without BEGIN/COMMIT (DDL), so the GTID
  // event alone opens and closes it.
  bool standalone = false;
};
Gtid parse_mariadb_gtid(std::span<const std::uint8_t> event);
Gtid parse_mysql_gtid(std::span<const std::uint8_t> event);

// A QUERY event (BEGIN, COMMIT, ROLLBACK, DDL): its statement and the default database the
// statement ran in (empty when the session had none).
struct Query {
  std::string schema;
  std::string text;
};
Query parse_query(std::span<const std::uint8_t> event, bool checksum);

}  // namespace sluice::replication::mysql

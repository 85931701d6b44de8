#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "replication/change_event.h"

namespace sluice::replication::mysql {

// Column type codes as the binlog writes them (enum_field_types).
enum ColumnType : std::uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDatetime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDatetime2 = 18,
  kTypeTime2 = 19,
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

constexpr std::uint32_t kBinaryCharset = 63;

// One column as a TABLE_MAP event describes it, with the metadata already unpacked into what
// the row decoder needs.
struct ColumnInfo {
  std::uint8_t type = 0;       // the real type: CHAR columns holding ENUM/SET report those
  std::uint16_t metadata = 0;  // raw per-type metadata as the binlog stores it
  // Derived from the metadata: string/blob length-prefix width, CHAR/BINARY byte length,
  // DECIMAL precision and scale, fractional-second digits, ENUM/SET byte width, BIT bytes.
  std::uint32_t length = 0;
  std::uint8_t precision = 0;
  std::uint8_t scale = 0;
  bool is_unsigned = false;
  bool nullable = true;
  std::uint32_t charset = 0;         // 0 when the map does not say (binlog_row_metadata=MINIMAL)
  std::string name;                  // empty when the map does not say
  std::vector<std::string> members;  // ENUM / SET value strings, when the map lists them

  bool is_binary() const { return charset == kBinaryCharset; }
};

// A decoded TABLE_MAP event: which table a `table_id` stands for in the rows events after it.
struct TableMap {
  std::uint64_t table_id = 0;
  std::string schema;
  std::string table;
  std::vector<ColumnInfo> columns;
  std::vector<std::size_t> primary_key;  // column indexes; empty when the map does not say

  // The shape handed to consumers: names (or "@1", "@2"… when unknown), type names, and
  // `key_columns` (or every column when empty, so a keyless table still has a row identity).
  std::shared_ptr<const TableDescription> describe(
      const std::vector<std::size_t>& key_columns) const;
};

// Reads the schema and table name of a TABLE_MAP event without decoding its columns, so
// filtered-out tables cost almost nothing. `body` starts after the 19-byte header and excludes
// the checksum.
struct TableName {
  std::uint64_t table_id = 0;
  std::string_view schema;
  std::string_view table;
};
TableName peek_table_map(std::span<const std::uint8_t> body, std::uint8_t post_header_length);

// Decodes a whole TABLE_MAP body (same `body` as above), including the optional metadata
// written with binlog_row_metadata=FULL (or MINIMAL): signedness, charsets, column names,
// ENUM/SET strings and the primary key. Throws StreamError on malformed bytes.
// `mariadb`: the map comes from a MariaDB server, whose signedness field also covers YEAR
// columns (MariaDB's YEAR is an unsigned TINYINT); MySQL's covers only the numeric types.
TableMap parse_table_map(std::span<const std::uint8_t> body, std::uint8_t post_header_length,
                         bool mariadb);

// The server's name for a column type ("int unsigned", "varchar", "datetime(6)").
std::string type_name(const ColumnInfo& column);

}  // namespace sluice::replication::mysql

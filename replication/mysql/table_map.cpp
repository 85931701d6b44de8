#include "replication/mysql/table_map.h"

#include "replication/mysql/byte_reader.h"

namespace sluice::replication::mysql {
namespace {

// Optional metadata field types (binlog_row_metadata), MySQL 8.0 / MariaDB 10.5 numbering.
enum OptionalField : std::uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetStrValue = 5,
  kEnumStrValue = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
};

bool has_sign(std::uint8_t type, bool mariadb) {
  switch (type) {
    case kTypeYear:
      return mariadb;
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeNewDecimal:
    case kTypeDecimal:
    case kTypeFloat:
    case kTypeDouble:
      return true;
    default:
      return false;
  }
}

// Columns whose charset the CHARSET fields list (ENUM and SET have fields of their own).
bool is_character(std::uint8_t type) {
  switch (type) {
    case kTypeString:
    case kTypeVarString:
    case kTypeVarchar:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
      return true;
    default:
      return false;
  }
}

bool is_enum_or_set(std::uint8_t type) {
  return type == kTypeEnum || type == kTypeSet;
}

void read_type_metadata(ByteReader& reader, ColumnInfo& column) {
  const char* what = "table map column metadata";
  switch (column.type) {
    case kTypeFloat:
    case kTypeDouble:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry:
    case kTypeJson:
      column.metadata = reader.u8(what);
      column.length = column.metadata;
      break;
    case kTypeTimestamp2:
    case kTypeDatetime2:
    case kTypeTime2:
      column.metadata = reader.u8(what);
      column.precision = static_cast<std::uint8_t>(column.metadata);
      break;
    case kTypeVarchar:
    case kTypeVarString:
      column.metadata = static_cast<std::uint16_t>(reader.uint(2, what));
      column.length = column.metadata;
      break;
    case kTypeBit: {
      const std::uint8_t bits = reader.u8(what);
      const std::uint8_t bytes = reader.u8(what);
      column.metadata = static_cast<std::uint16_t>(bytes << 8 | bits);
      column.precision = static_cast<std::uint8_t>(bytes * 8 + bits);
      column.length = bytes + (bits > 0 ? 1 : 0);
      break;
    }
    case kTypeNewDecimal:
      column.precision = reader.u8(what);
      column.scale = reader.u8(what);
      column.metadata = static_cast<std::uint16_t>(column.precision << 8 | column.scale);
      break;
    case kTypeString:
    case kTypeEnum:
    case kTypeSet: {
      const std::uint8_t first = reader.u8(what);
      const std::uint8_t second = reader.u8(what);
      column.metadata = static_cast<std::uint16_t>(first << 8 | second);
      // CHAR longer than 255 bytes keeps the high bits of its length in bits 4-5 of the type.
      if ((first & 0x30) != 0x30) {
        column.type = kTypeString;
        column.length = second | (((first & 0x30) ^ 0x30) << 4);
      } else {
        column.type = first;
        column.length = second;
      }
      break;
    }
    default:
      break;
  }
}

std::vector<std::size_t> columns_where(const TableMap& map, bool (*predicate)(std::uint8_t)) {
  std::vector<std::size_t> indexes;
  for (std::size_t i = 0; i < map.columns.size(); ++i) {
    if (predicate(map.columns[i].type)) {
      indexes.push_back(i);
    }
  }
  return indexes;
}

void read_default_charsets(ByteReader& field, TableMap& map,
                           const std::vector<std::size_t>& columns) {
  const std::uint32_t fallback = static_cast<std::uint32_t>(field.packed("default charset"));
  for (std::size_t index : columns) {
    map.columns[index].charset = fallback;
  }
  while (field.remaining() > 0) {
    const std::uint64_t position = field.packed("default charset");
    const std::uint32_t charset = static_cast<std::uint32_t>(field.packed("default charset"));
    if (position >= columns.size()) {
      throw StreamError("table map charset names a column beyond the table");
    }
    map.columns[columns[position]].charset = charset;
  }
}

void read_column_charsets(ByteReader& field, TableMap& map,
                          const std::vector<std::size_t>& columns) {
  for (std::size_t index : columns) {
    map.columns[index].charset = static_cast<std::uint32_t>(field.packed("column charset"));
  }
}

void read_members(ByteReader& field, TableMap& map, std::uint8_t type) {
  for (ColumnInfo& column : map.columns) {
    if (column.type != type) {
      continue;
    }
    const std::uint64_t count = field.packed("enum/set values");
    // Each member takes at least its length byte: a larger count is damage, not a reason to
    // reserve memory for it.
    if (count > field.remaining()) {
      throw StreamError("table map lists " + std::to_string(count) + " ENUM/SET members in " +
                        std::to_string(field.remaining()) + " bytes");
    }
    column.members.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t length = field.packed("enum/set values");
      column.members.emplace_back(field.bytes(length, "enum/set values"));
    }
  }
}

void read_optional_metadata(ByteReader& reader, TableMap& map, bool mariadb) {
  while (reader.remaining() > 0) {
    const std::uint8_t type = reader.u8("optional metadata");
    const std::uint64_t length = reader.packed("optional metadata");
    ByteReader field(reader.current(), length);
    reader.skip(length, "optional metadata");
    switch (type) {
      case kSignedness: {
        std::size_t bit = 0;
        for (ColumnInfo& column : map.columns) {
          if (!has_sign(column.type, mariadb)) {
            continue;
          }
          field.need(bit / 8 + 1, "signedness");
          column.is_unsigned = (field.current()[bit / 8] & (0x80 >> (bit % 8))) != 0;
          ++bit;
        }
        break;
      }
      case kDefaultCharset:
        read_default_charsets(field, map, columns_where(map, is_character));
        break;
      case kColumnCharset:
        read_column_charsets(field, map, columns_where(map, is_character));
        break;
      case kEnumAndSetDefaultCharset:
        read_default_charsets(field, map, columns_where(map, is_enum_or_set));
        break;
      case kEnumAndSetColumnCharset:
        read_column_charsets(field, map, columns_where(map, is_enum_or_set));
        break;
      case kColumnName:
        for (ColumnInfo& column : map.columns) {
          const std::uint64_t name_length = field.packed("column name");
          column.name = std::string(field.bytes(name_length, "column name"));
        }
        break;
      case kSetStrValue:
        read_members(field, map, kTypeSet);
        break;
      case kEnumStrValue:
        read_members(field, map, kTypeEnum);
        break;
      case kSimplePrimaryKey:
        while (field.remaining() > 0) {
          map.primary_key.push_back(field.packed("primary key"));
        }
        break;
      case kPrimaryKeyWithPrefix:
        while (field.remaining() > 0) {
          map.primary_key.push_back(field.packed("primary key"));
          field.packed("primary key prefix");
        }
        break;
      default:  // geometry subtypes, column visibility, and fields newer than this decoder
        break;
    }
  }
  for (std::size_t index : map.primary_key) {
    if (index >= map.columns.size()) {
      throw StreamError("table map primary key names a column beyond the table");
    }
  }
}

std::uint64_t read_table_id(ByteReader& reader, std::uint8_t post_header_length) {
  // Binlog v4 writes 6-byte table ids; a post-header of 6 bytes means the old 4-byte form.
  return reader.uint(post_header_length == 6 ? 4 : 6, "table id");
}

}  // namespace

TableName peek_table_map(std::span<const std::uint8_t> body, std::uint8_t post_header_length) {
  ByteReader reader(body.data(), body.size());
  TableName name;
  name.table_id = read_table_id(reader, post_header_length);
  reader.skip(2, "table map flags");
  name.schema = reader.bytes(reader.u8("schema name"), "schema name");
  reader.skip(1, "schema name");
  name.table = reader.bytes(reader.u8("table name"), "table name");
  reader.skip(1, "table name");
  return name;
}

TableMap parse_table_map(std::span<const std::uint8_t> body, std::uint8_t post_header_length,
                         bool mariadb) {
  ByteReader reader(body.data(), body.size());
  TableMap map;
  map.table_id = read_table_id(reader, post_header_length);
  reader.skip(2, "table map flags");
  map.schema = std::string(reader.bytes(reader.u8("schema name"), "schema name"));
  reader.skip(1, "schema name");
  map.table = std::string(reader.bytes(reader.u8("table name"), "table name"));
  reader.skip(1, "table name");
  const std::uint64_t count = reader.packed("column count");
  if (count > reader.remaining()) {
    throw StreamError("table map announces more columns than it carries");
  }
  map.columns.resize(count);
  for (ColumnInfo& column : map.columns) {
    column.type = reader.u8("column types");
  }
  const std::uint64_t metadata_length = reader.packed("column metadata");
  ByteReader metadata(reader.current(), metadata_length);
  reader.skip(metadata_length, "column metadata");
  for (ColumnInfo& column : map.columns) {
    read_type_metadata(metadata, column);
  }
  const std::size_t bitmap_bytes = (count + 7) / 8;
  reader.need(bitmap_bytes, "null bitmap");
  for (std::size_t i = 0; i < count; ++i) {
    map.columns[i].nullable = (reader.current()[i / 8] & (1u << (i % 8))) != 0;
  }
  reader.skip(bitmap_bytes, "null bitmap");
  read_optional_metadata(reader, map, mariadb);
  return map;
}

std::string type_name(const ColumnInfo& column) {
  const std::string sign = column.is_unsigned ? " unsigned" : "";
  const std::string fraction =
      column.precision > 0 ? "(" + std::to_string(column.precision) + ")" : "";
  switch (column.type) {
    case kTypeTiny:
      return "tinyint" + sign;
    case kTypeShort:
      return "smallint" + sign;
    case kTypeInt24:
      return "mediumint" + sign;
    case kTypeLong:
      return "int" + sign;
    case kTypeLongLong:
      return "bigint" + sign;
    case kTypeFloat:
      return "float" + sign;
    case kTypeDouble:
      return "double" + sign;
    case kTypeDecimal:
    case kTypeNewDecimal:
      return "decimal(" + std::to_string(column.precision) + "," + std::to_string(column.scale) +
             ")" + sign;
    case kTypeDate:
    case kTypeNewDate:
      return "date";
    case kTypeTime:
    case kTypeTime2:
      return "time" + fraction;
    case kTypeDatetime:
    case kTypeDatetime2:
      return "datetime" + fraction;
    case kTypeTimestamp:
    case kTypeTimestamp2:
      return "timestamp" + fraction;
    case kTypeYear:
      return "year";
    case kTypeVarchar:
    case kTypeVarString:
      return column.is_binary() ? "varbinary" : "varchar";
    case kTypeString:
      return column.is_binary() ? "binary" : "char";
    case kTypeEnum:
      return "enum";
    case kTypeSet:
      return "set";
    case kTypeBit:
      return "bit(" + std::to_string(column.precision) + ")";
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob: {
      static constexpr const char* kSizes[] = {"", "tiny", "", "medium", "long"};
      return std::string(column.length <= 4 ? kSizes[column.length] : "") +
             (column.is_binary() || column.charset == 0 ? "blob" : "text");
    }
    case kTypeJson:
      return "json";
    case kTypeGeometry:
      return "geometry";
    case kTypeNull:
      return "null";
    default:
      return "type " + std::to_string(column.type);
  }
}

std::shared_ptr<const TableDescription> TableMap::describe(
    const std::vector<std::size_t>& key_columns) const {
  auto description = std::make_shared<TableDescription>();
  description->schema = schema;
  description->table = table;
  description->columns.reserve(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) {
    description->columns.push_back(
        {columns[i].name.empty() ? "@" + std::to_string(i + 1) : columns[i].name,
         type_name(columns[i])});
  }
  description->key_columns = key_columns;
  if (description->key_columns.empty()) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      description->key_columns.push_back(i);
    }
  }
  return description;
}

}  // namespace sluice::replication::mysql

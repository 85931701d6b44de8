#include "replication/mysql/row_image.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "replication/mysql/json_binary.h"

namespace sluice::replication::mysql {
namespace {

constexpr std::uint8_t kDecimalDigitBytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr int kDigitsPerGroup = 9;
// The largest DECIMAL the servers allow: 65 digits, of which 30 (MySQL) or 38 (MariaDB) after
// the point.
constexpr int kMaxDecimalPrecision = 65;
constexpr int kMaxDecimalScale = 38;
constexpr std::int64_t kTimeIntOffset = 0x800000;
constexpr std::int64_t kTimeOffset = 0x800000000000LL;
constexpr std::int64_t kDatetimeIntOffset = 0x8000000000LL;

template <typename T>
void set_number(Value& out, T value) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.kind = ValueKind::number;
  out.text.assign(buffer, result.ptr);
}

// Writes `value` as exactly `width` decimal digits at `at`.
char* put_digits(char* at, std::uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return at + width;
}

// Appends ".ffffff" cut to `digits` fractional digits (none for 0).
char* put_fraction(char* at, std::uint32_t microseconds, int digits) {
  if (digits <= 0) {
    return at;
  }
  char full[6];
  put_digits(full, microseconds, 6);
  *at++ = '.';
  std::memcpy(at, full, static_cast<std::size_t>(digits));
  return at + digits;
}

char* put_date(char* at, unsigned year, unsigned month, unsigned day) {
  at = put_digits(at, year, 4);
  *at++ = '-';
  at = put_digits(at, month, 2);
  *at++ = '-';
  return put_digits(at, day, 2);
}

char* put_clock(char* at, unsigned hour, unsigned minute, unsigned second) {
  at = put_digits(at, hour, hour >= 100 ? 3 : 2);
  *at++ = ':';
  at = put_digits(at, minute, 2);
  *at++ = ':';
  return put_digits(at, second, 2);
}

void set_temporal(Value& out, const char* begin, const char* end) {
  out.kind = ValueKind::temporal;
  out.text.assign(begin, end);
}

int fraction_digits(const ColumnInfo& column) {
  return column.precision > 6 ? 6 : column.precision;
}

// TIMESTAMP2 / DATETIME2 store the fraction after the integer part in (fsp + 1) / 2 big-endian
// bytes, in units of 1/100, 1/10000 or 1/1000000 of a second.
std::uint32_t read_fraction(ByteReader& reader, const ColumnInfo& column) {
  switch ((fraction_digits(column) + 1) / 2) {
    case 1:
      return static_cast<std::uint32_t>(reader.u8("fractional seconds")) * 10000;
    case 2:
      return static_cast<std::uint32_t>(reader.uint_be(2, "fractional seconds")) * 100;
    case 3:
      return static_cast<std::uint32_t>(reader.uint_be(3, "fractional seconds"));
    default:
      return 0;
  }
}

void decode_decimal(const ColumnInfo& column, ByteReader& reader, Value& out) {
  // A table map from a damaged or hostile stream can claim any precision and scale; the digit
  // groups below index tables by them.
  if (column.scale > column.precision || column.precision > kMaxDecimalPrecision ||
      column.scale > kMaxDecimalScale) {
    throw StreamError("DECIMAL column " + column.name + " has an impossible precision " +
                      std::to_string(column.precision) + " and scale " +
                      std::to_string(column.scale));
  }
  const int integer_digits = column.precision - column.scale;
  const int integer_groups = integer_digits / kDigitsPerGroup;
  const int integer_leading = integer_digits % kDigitsPerGroup;
  const int fraction_groups = column.scale / kDigitsPerGroup;
  const int fraction_trailing = column.scale % kDigitsPerGroup;
  const std::size_t size =
      static_cast<std::size_t>(integer_groups * 4 + kDecimalDigitBytes[integer_leading] +
                               fraction_groups * 4 + kDecimalDigitBytes[fraction_trailing]);
  if (size == 0 || size > 40) {
    throw StreamError("DECIMAL column " + column.name + " has an impossible precision " +
                      std::to_string(column.precision));
  }
  std::uint8_t bytes[40];
  std::memcpy(bytes, reader.bytes(size, "DECIMAL value").data(), size);
  // The sign lives in the top bit (1 = positive); negative values store every byte inverted.
  const bool negative = (bytes[0] & 0x80) == 0;
  bytes[0] ^= 0x80;
  if (negative) {
    for (std::size_t i = 0; i < size; ++i) {
      bytes[i] = static_cast<std::uint8_t>(~bytes[i]);
    }
  }
  ByteReader digits(bytes, size);
  char buffer[96];
  char* at = buffer;
  if (integer_leading > 0) {
    at = put_digits(at, digits.uint_be(kDecimalDigitBytes[integer_leading], "DECIMAL"),
                    integer_leading);
  }
  for (int i = 0; i < integer_groups; ++i) {
    at = put_digits(at, digits.uint_be(4, "DECIMAL"), kDigitsPerGroup);
  }
  char* integer_end = at;
  for (int i = 0; i < fraction_groups; ++i) {
    at = put_digits(at, digits.uint_be(4, "DECIMAL"), kDigitsPerGroup);
  }
  if (fraction_trailing > 0) {
    at = put_digits(at, digits.uint_be(kDecimalDigitBytes[fraction_trailing], "DECIMAL"),
                    fraction_trailing);
  }
  const char* first = buffer;
  while (first < integer_end - 1 && *first == '0') {
    ++first;
  }
  const bool all_zero = std::all_of(buffer, at, [](char c) { return c == '0'; });
  out.kind = ValueKind::number;
  out.text.clear();
  if (negative && !all_zero) {
    out.text += '-';
  }
  if (first == integer_end) {
    out.text += '0';
  } else {
    out.text.append(first, static_cast<std::size_t>(integer_end - first));
  }
  if (column.scale > 0) {
    out.text += '.';
    out.text.append(integer_end, at);
  }
}

void set_datetime_parts(Value& out, unsigned year, unsigned month, unsigned day, unsigned hour,
                        unsigned minute, unsigned second, std::uint32_t micro, int digits) {
  char buffer[40];
  char* at = put_date(buffer, year, month, day);
  *at++ = ' ';
  at = put_clock(at, hour, minute, second);
  at = put_fraction(at, micro, digits);
  set_temporal(out, buffer, at);
}

void set_unix_time(Value& out, std::int64_t seconds, std::uint32_t micro, int digits) {
  if (seconds == 0 && micro == 0) {
    set_datetime_parts(out, 0, 0, 0, 0, 0, 0, 0, digits);
    return;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm), in UTC.
  std::int64_t days = seconds / 86400;
  const std::int64_t rest = seconds % 86400;
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t day_of_era = days - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t mp = (5 * day_of_year + 2) / 153;
  const std::int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  set_datetime_parts(out, static_cast<unsigned>(year), static_cast<unsigned>(month),
                     static_cast<unsigned>(day), static_cast<unsigned>(rest / 3600),
                     static_cast<unsigned>(rest / 60 % 60), static_cast<unsigned>(rest % 60), micro,
                     digits);
}

void set_time(Value& out, bool negative, std::uint64_t hour, unsigned minute, unsigned second,
              std::uint32_t micro, int digits) {
  char buffer[40];
  char* at = buffer;
  if (negative) {
    *at++ = '-';
  }
  at = put_clock(at, static_cast<unsigned>(hour), minute, second);
  at = put_fraction(at, micro, digits);
  set_temporal(out, buffer, at);
}

void decode_time2(const ColumnInfo& column, ByteReader& reader, Value& out) {
  const int digits = fraction_digits(column);
  // The packed form is (integer part << 24) + fraction, stored with an offset so that it sorts
  // as unsigned bytes; negative times borrow one second from the integer part.
  std::int64_t packed = 0;
  switch ((digits + 1) / 2) {
    case 0:
      packed = (static_cast<std::int64_t>(reader.uint_be(3, "TIME value")) - kTimeIntOffset) << 24;
      break;
    case 1: {
      std::int64_t integer =
          static_cast<std::int64_t>(reader.uint_be(3, "TIME value")) - kTimeIntOffset;
      std::int64_t fraction = reader.u8("TIME value");
      if (integer < 0 && fraction != 0) {
        integer++;
        fraction -= 0x100;
      }
      packed = integer * (1LL << 24) + fraction * 10000;
      break;
    }
    case 2: {
      std::int64_t integer =
          static_cast<std::int64_t>(reader.uint_be(3, "TIME value")) - kTimeIntOffset;
      std::int64_t fraction = static_cast<std::int64_t>(reader.uint_be(2, "TIME value"));
      if (integer < 0 && fraction != 0) {
        integer++;
        fraction -= 0x10000;
      }
      packed = integer * (1LL << 24) + fraction * 100;
      break;
    }
    default:
      packed = static_cast<std::int64_t>(reader.uint_be(6, "TIME value")) - kTimeOffset;
      break;
  }
  const bool negative = packed < 0;
  const std::uint64_t magnitude =
      negative ? static_cast<std::uint64_t>(-packed) : static_cast<std::uint64_t>(packed);
  const std::uint64_t hms = magnitude >> 24;
  const auto micro = static_cast<std::uint32_t>(magnitude % (1ULL << 24));
  set_time(out, negative, (hms >> 12) % (1 << 10), static_cast<unsigned>((hms >> 6) % 64),
           static_cast<unsigned>(hms % 64), micro, digits);
}

void decode_datetime2(const ColumnInfo& column, ByteReader& reader, Value& out) {
  const std::int64_t integer =
      static_cast<std::int64_t>(reader.uint_be(5, "DATETIME value")) - kDatetimeIntOffset;
  const std::uint32_t micro = read_fraction(reader, column);
  const std::uint64_t magnitude = static_cast<std::uint64_t>(integer < 0 ? -integer : integer);
  const std::uint64_t ymd = magnitude >> 17;
  const std::uint64_t year_month = ymd >> 5;
  const std::uint64_t hms = magnitude % (1 << 17);
  set_datetime_parts(out, static_cast<unsigned>(year_month / 13),
                     static_cast<unsigned>(year_month % 13), static_cast<unsigned>(ymd % 32),
                     static_cast<unsigned>(hms >> 12), static_cast<unsigned>((hms >> 6) % 64),
                     static_cast<unsigned>(hms % 64), micro, fraction_digits(column));
}

void set_bytes(Value& out, ValueKind kind, std::string_view bytes) {
  out.kind = kind;
  out.text.assign(bytes);
}

ValueKind character_kind(const ColumnInfo& column) {
  return column.is_binary() ? ValueKind::binary : ValueKind::text;
}

std::size_t blob_length(const ColumnInfo& column, ByteReader& reader) {
  if (column.length < 1 || column.length > 4) {
    throw StreamError("BLOB column " + column.name + " has an invalid length-prefix size " +
                      std::to_string(column.length));
  }
  return reader.uint(column.length, "BLOB length");
}

std::size_t string_length(const ColumnInfo& column, ByteReader& reader) {
  return reader.uint(column.length > 255 ? 2 : 1, "string length");
}

void decode_enum(const ColumnInfo& column, ByteReader& reader, Value& out) {
  const std::uint64_t index = reader.uint(column.length, "ENUM value");
  if (column.members.empty()) {
    set_number(out, index);
    return;
  }
  out.kind = ValueKind::text;
  out.text.clear();
  if (index > 0 && index <= column.members.size()) {
    out.text = column.members[index - 1];
  }
}

void decode_set(const ColumnInfo& column, ByteReader& reader, Value& out) {
  const std::uint64_t bits = reader.uint(column.length, "SET value");
  if (column.members.empty()) {
    set_number(out, bits);
    return;
  }
  out.kind = ValueKind::text;
  out.text.clear();
  for (std::size_t i = 0; i < column.members.size() && i < 64; ++i) {
    if (bits & (1ULL << i)) {
      if (!out.text.empty()) {
        out.text += ',';
      }
      out.text += column.members[i];
    }
  }
}

[[noreturn]] void unsupported(const ColumnInfo& column) {
  throw StreamError("column " + (column.name.empty() ? std::string("?") : column.name) +
                    " has binlog type " + std::to_string(column.type) +
                    ", which this decoder does not know");
}

}  // namespace

void decode_value(const ColumnInfo& column, ByteReader& reader, Value& out) {
  const bool u = column.is_unsigned;
  switch (column.type) {
    case kTypeTiny: {
      const auto raw = static_cast<std::uint8_t>(reader.uint(1, "TINYINT"));
      u ? set_number(out, raw) : set_number(out, static_cast<std::int8_t>(raw));
      return;
    }
    case kTypeShort: {
      const auto raw = static_cast<std::uint16_t>(reader.uint(2, "SMALLINT"));
      u ? set_number(out, raw) : set_number(out, static_cast<std::int16_t>(raw));
      return;
    }
    case kTypeInt24: {
      const auto raw = static_cast<std::uint32_t>(reader.uint(3, "MEDIUMINT"));
      u ? set_number(out, raw) : set_number(out, static_cast<std::int32_t>(raw << 8) >> 8);
      return;
    }
    case kTypeLong: {
      const auto raw = static_cast<std::uint32_t>(reader.uint(4, "INT"));
      u ? set_number(out, raw) : set_number(out, static_cast<std::int32_t>(raw));
      return;
    }
    case kTypeLongLong: {
      const std::uint64_t raw = reader.uint(8, "BIGINT");
      u ? set_number(out, raw) : set_number(out, static_cast<std::int64_t>(raw));
      return;
    }
    case kTypeFloat: {
      const auto raw = static_cast<std::uint32_t>(reader.uint(4, "FLOAT"));
      float value = 0;
      std::memcpy(&value, &raw, sizeof value);
      set_number(out, value);
      return;
    }
    case kTypeDouble: {
      const std::uint64_t raw = reader.uint(8, "DOUBLE");
      double value = 0;
      std::memcpy(&value, &raw, sizeof value);
      set_number(out, value);
      return;
    }
    case kTypeNewDecimal:
      decode_decimal(column, reader, out);
      return;
    case kTypeYear: {
      const std::uint8_t raw = reader.u8("YEAR");
      char buffer[4];
      put_digits(buffer, raw == 0 ? 0 : 1900u + raw, 4);
      out.kind = ValueKind::number;
      out.text.assign(buffer, 4);
      return;
    }
    case kTypeDate:
    case kTypeNewDate: {
      const auto raw = static_cast<std::uint32_t>(reader.uint(3, "DATE"));
      char buffer[12];
      char* end = put_date(buffer, raw >> 9, (raw >> 5) & 15, raw & 31);
      set_temporal(out, buffer, end);
      return;
    }
    case kTypeTime: {
      const auto raw = static_cast<std::uint32_t>(reader.uint(3, "TIME"));
      const std::int32_t value = static_cast<std::int32_t>(raw << 8) >> 8;
      const std::uint32_t magnitude = static_cast<std::uint32_t>(value < 0 ? -value : value);
      set_time(out, value < 0, magnitude / 10000, magnitude / 100 % 100, magnitude % 100, 0, 0);
      return;
    }
    case kTypeDatetime: {
      const std::uint64_t raw = reader.uint(8, "DATETIME");
      const std::uint64_t date = raw / 1000000;
      const std::uint64_t time = raw % 1000000;
      set_datetime_parts(
          out, static_cast<unsigned>(date / 10000), static_cast<unsigned>(date / 100 % 100),
          static_cast<unsigned>(date % 100), static_cast<unsigned>(time / 10000),
          static_cast<unsigned>(time / 100 % 100), static_cast<unsigned>(time % 100), 0, 0);
      return;
    }
    case kTypeTimestamp:
      set_unix_time(out, static_cast<std::int64_t>(reader.uint(4, "TIMESTAMP")), 0, 0);
      return;
    case kTypeTimestamp2: {
      const auto seconds = static_cast<std::int64_t>(reader.uint_be(4, "TIMESTAMP"));
      const std::uint32_t micro = read_fraction(reader, column);
      set_unix_time(out, seconds, micro, fraction_digits(column));
      return;
    }
    case kTypeDatetime2:
      decode_datetime2(column, reader, out);
      return;
    case kTypeTime2:
      decode_time2(column, reader, out);
      return;
    case kTypeVarchar:
    case kTypeVarString: {
      const std::size_t length = string_length(column, reader);
      set_bytes(out, character_kind(column), reader.bytes(length, "VARCHAR value"));
      return;
    }
    case kTypeString: {
      const std::size_t length = string_length(column, reader);
      set_bytes(out, character_kind(column), reader.bytes(length, "CHAR value"));
      // BINARY(n) is stored with its trailing zero bytes stripped; the column holds them.
      if (column.is_binary() && out.text.size() < column.length) {
        out.text.resize(column.length, '\0');
      }
      return;
    }
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob: {
      const std::size_t length = blob_length(column, reader);
      set_bytes(out,
                column.charset == 0 || column.is_binary() ? ValueKind::binary : ValueKind::text,
                reader.bytes(length, "BLOB value"));
      return;
    }
    case kTypeGeometry: {
      const std::size_t length = blob_length(column, reader);
      set_bytes(out, ValueKind::binary, reader.bytes(length, "GEOMETRY value"));
      return;
    }
    case kTypeJson: {
      const std::size_t length = blob_length(column, reader);
      out.kind = ValueKind::json;
      out.text = json_binary_to_text(reader.bytes(length, "JSON value"));
      return;
    }
    case kTypeEnum:
      decode_enum(column, reader, out);
      return;
    case kTypeSet:
      decode_set(column, reader, out);
      return;
    case kTypeBit:
      set_bytes(out, ValueKind::binary, reader.bytes(column.length, "BIT value"));
      return;
    case kTypeNull:
      out.kind = ValueKind::null;
      out.text.clear();
      return;
    default:
      unsupported(column);
  }
}

void skip_value(const ColumnInfo& column, ByteReader& reader) {
  static constexpr std::uint8_t kFixedSizes[20] = {0, 1, 2, 4, 4, 8, 0, 4, 8, 3,
                                                   3, 3, 8, 1, 3, 0, 0, 0, 0, 0};
  const int digits = fraction_digits(column);
  switch (column.type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeLong:
    case kTypeFloat:
    case kTypeDouble:
    case kTypeTimestamp:
    case kTypeLongLong:
    case kTypeInt24:
    case kTypeDate:
    case kTypeTime:
    case kTypeDatetime:
    case kTypeYear:
    case kTypeNewDate:
      reader.skip(kFixedSizes[column.type], "column value");
      return;
    case kTypeTimestamp2:
      reader.skip(4 + static_cast<std::size_t>((digits + 1) / 2), "TIMESTAMP value");
      return;
    case kTypeDatetime2:
      reader.skip(5 + static_cast<std::size_t>((digits + 1) / 2), "DATETIME value");
      return;
    case kTypeTime2:
      reader.skip(3 + static_cast<std::size_t>((digits + 1) / 2), "TIME value");
      return;
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeString:
      reader.skip(string_length(column, reader), "string value");
      return;
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry:
    case kTypeJson:
      reader.skip(blob_length(column, reader), "BLOB value");
      return;
    case kTypeEnum:
    case kTypeSet:
    case kTypeBit:
      reader.skip(column.length, "column value");
      return;
    case kTypeNull:
      return;
    default: {
      Value scratch;
      decode_value(column, reader, scratch);
    }
  }
}

void decode_row(const TableMap& map, const std::uint8_t* present, ByteReader& reader, Row& out,
                const std::vector<char>* wanted) {
  const std::size_t count = map.columns.size();
  std::size_t present_count = 0;
  for (std::size_t i = 0; i < count; ++i) {
    present_count += (present[i / 8] >> (i % 8)) & 1;
  }
  const std::size_t null_bytes = (present_count + 7) / 8;
  reader.need(null_bytes, "row null bitmap");
  const std::uint8_t* nulls = reader.current();
  reader.skip(null_bytes, "row null bitmap");
  out.resize(count);
  std::size_t present_index = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Value& value = out[i];
    if (((present[i / 8] >> (i % 8)) & 1) == 0) {
      value.kind = ValueKind::unchanged;
      value.text.clear();
      continue;
    }
    const bool is_null = (nulls[present_index / 8] >> (present_index % 8)) & 1;
    ++present_index;
    if (is_null) {
      value.kind = ValueKind::null;
      value.text.clear();
    } else if (wanted && !(*wanted)[i]) {
      skip_value(map.columns[i], reader);
      value.kind = ValueKind::unchanged;
      value.text.clear();
    } else {
      decode_value(map.columns[i], reader, value);
    }
  }
}

}  // namespace sluice::replication::mysql

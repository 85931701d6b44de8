#include "replication/mysql/json_binary.h"

#include <charconv>
#include <cstdint>
#include <cstring>

#include "replication/stream_error.h"

namespace sluice::replication::mysql {
namespace {

enum JsonType : std::uint8_t {
  kSmallObject = 0,
  kLargeObject = 1,
  kSmallArray = 2,
  kLargeArray = 3,
  kLiteral = 4,
  kInt16 = 5,
  kUint16 = 6,
  kInt32 = 7,
  kUint32 = 8,
  kInt64 = 9,
  kUint64 = 10,
  kDouble = 11,
  kString = 12,
  kOpaque = 15,
};

[[noreturn]] void malformed() {
  throw StreamError("binary JSON value is malformed");
}

std::uint64_t read_le(std::string_view data, std::size_t at, std::size_t n) {
  if (at > data.size() || n > data.size() - at) {
    malformed();
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data[at + i])) << (8 * i);
  }
  return value;
}

// Lengths inside binary JSON use 7 bits per byte, low group first, high bit = more follows.
std::uint64_t read_varlen(std::string_view data, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (at >= data.size()) {
      malformed();
    }
    const auto byte = static_cast<std::uint8_t>(data[at++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      return value;
    }
  }
  malformed();
}

void append_quoted(std::string& out, std::string_view text) {
  static constexpr const char* kHex = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    const auto byte = static_cast<std::uint8_t>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

template <typename T>
void append_number(std::string& out, T value) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void append_base64(std::string& out, std::string_view data) {
  static constexpr const char* kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint8_t>(data[i]) << 16 |
                            static_cast<std::uint8_t>(data[i + 1]) << 8 |
                            static_cast<std::uint8_t>(data[i + 2]);
    for (int shift : {18, 12, 6, 0}) {
      out += kAlphabet[(n >> shift) & 63];
    }
  }
  if (i < data.size()) {
    std::uint32_t n = static_cast<std::uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) {
      n |= static_cast<std::uint8_t>(data[i + 1]) << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
}

void append_value(std::string& out, std::uint8_t type, std::string_view data, int depth);

void append_container(std::string& out, std::string_view data, bool object, bool large, int depth) {
  if (depth > 100) {
    throw StreamError("binary JSON value nests deeper than 100 levels");
  }
  const std::size_t offset_size = large ? 4 : 2;
  const std::uint64_t count = read_le(data, 0, offset_size);
  const std::uint64_t size = read_le(data, offset_size, offset_size);
  if (size > data.size()) {
    malformed();
  }
  const std::size_t key_entry = offset_size + 2;
  const std::size_t value_entry = 1 + offset_size;
  const std::size_t header = 2 * offset_size;
  const std::size_t values_start = header + (object ? count * key_entry : 0);
  out += object ? '{' : '[';
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i > 0) {
      out += ", ";
    }
    if (object) {
      const std::size_t entry = header + i * key_entry;
      const std::uint64_t key_offset = read_le(data, entry, offset_size);
      const std::uint64_t key_length = read_le(data, entry + offset_size, 2);
      if (key_offset > size || key_length > size - key_offset) {
        malformed();
      }
      append_quoted(out, data.substr(key_offset, key_length));
      out += ": ";
    }
    const std::size_t entry = values_start + i * value_entry;
    const auto type = static_cast<std::uint8_t>(read_le(data, entry, 1));
    const bool inlined = type == kLiteral || type == kInt16 || type == kUint16 ||
                         (large && (type == kInt32 || type == kUint32));
    if (inlined) {
      append_value(out, type, data.substr(entry + 1, offset_size), depth + 1);
    } else {
      const std::uint64_t value_offset = read_le(data, entry + 1, offset_size);
      if (value_offset >= size) {
        malformed();
      }
      append_value(out, type, data.substr(value_offset, size - value_offset), depth + 1);
    }
  }
  out += object ? '}' : ']';
}

void append_value(std::string& out, std::uint8_t type, std::string_view data, int depth) {
  switch (type) {
    case kSmallObject:
    case kLargeObject:
      append_container(out, data, true, type == kLargeObject, depth);
      return;
    case kSmallArray:
    case kLargeArray:
      append_container(out, data, false, type == kLargeArray, depth);
      return;
    case kLiteral:
      switch (read_le(data, 0, 1)) {
        case 0:
          out += "null";
          return;
        case 1:
          out += "true";
          return;
        case 2:
          out += "false";
          return;
        default:
          malformed();
      }
    case kInt16:
      append_number(out, static_cast<std::int16_t>(read_le(data, 0, 2)));
      return;
    case kUint16:
      append_number(out, static_cast<std::uint16_t>(read_le(data, 0, 2)));
      return;
    case kInt32:
      append_number(out, static_cast<std::int32_t>(read_le(data, 0, 4)));
      return;
    case kUint32:
      append_number(out, static_cast<std::uint32_t>(read_le(data, 0, 4)));
      return;
    case kInt64:
      append_number(out, static_cast<std::int64_t>(read_le(data, 0, 8)));
      return;
    case kUint64:
      append_number(out, read_le(data, 0, 8));
      return;
    case kDouble: {
      const std::uint64_t bits = read_le(data, 0, 8);
      double value = 0;
      std::memcpy(&value, &bits, sizeof value);
      append_number(out, value);
      return;
    }
    case kString: {
      std::size_t at = 0;
      const std::uint64_t length = read_varlen(data, at);
      if (length > data.size() - at) {
        malformed();
      }
      append_quoted(out, data.substr(at, length));
      return;
    }
    case kOpaque: {
      const auto field_type = static_cast<std::uint8_t>(read_le(data, 0, 1));
      std::size_t at = 1;
      const std::uint64_t length = read_varlen(data, at);
      if (length > data.size() - at) {
        malformed();
      }
      out += "\"base64:type" + std::to_string(field_type) + ":";
      append_base64(out, data.substr(at, length));
      out += '"';
      return;
    }
    default:
      malformed();
  }
}

}  // namespace

std::string json_binary_to_text(std::string_view binary) {
  // MySQL writes a zero-length value for a JSON column that has no document yet (a column
  // added by ALTER TABLE without a default); it reads back as JSON null.
  if (binary.empty()) {
    return "null";
  }
  std::string out;
  append_value(out, static_cast<std::uint8_t>(binary[0]), binary.substr(1), 0);
  return out;
}

}  // namespace sluice::replication::mysql

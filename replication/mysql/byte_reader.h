#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "replication/stream_error.h"

namespace sluice::replication::mysql {

// A bounds-checked cursor over one binlog event's bytes. Every read that would run past the end
// throws StreamError naming `what`, so a truncated or misunderstood event never reads foreign
// memory. Integers are little-endian unless the name says `be` (big-endian), as the binlog
// stores them.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::size_t remaining() const { return size_ - pos_; }
  std::size_t position() const { return pos_; }
  const std::uint8_t* current() const { return data_ + pos_; }

  // Integer widths come from table maps, which a damaged stream can fill with anything.
  static void fits_integer(std::size_t n, const char* what) {
    if (n > sizeof(std::uint64_t)) {
      throw StreamError(std::string("binlog event claims ") + std::to_string(n) +
                        " bytes for an integer while reading " + what);
    }
  }

  void need(std::size_t n, const char* what) const {
    if (n > size_ - pos_) {
      throw StreamError(std::string("binlog event is truncated while reading ") + what);
    }
  }

  void skip(std::size_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }

  std::uint8_t u8(const char* what) {
    need(1, what);
    return data_[pos_++];
  }

  // An unsigned little-endian integer of `n` (1..8) bytes.
  std::uint64_t uint(std::size_t n, const char* what) {
    fits_integer(n, what);
    need(n, what);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      value |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
    }
    pos_ += n;
    return value;
  }

  // An unsigned big-endian integer of `n` (1..8) bytes.
  std::uint64_t uint_be(std::size_t n, const char* what) {
    fits_integer(n, what);
    need(n, what);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      value = (value << 8) | data_[pos_ + i];
    }
    pos_ += n;
    return value;
  }

  // The protocol's length-encoded ("packed") integer: one byte below 0xfb, or 0xfc/0xfd/0xfe
  // followed by 2, 3 or 8 bytes.
  std::uint64_t packed(const char* what) {
    const std::uint8_t first = u8(what);
    switch (first) {
      case 0xfc:
        return uint(2, what);
      case 0xfd:
        return uint(3, what);
      case 0xfe:
        return uint(8, what);
      case 0xfb:
      case 0xff:
        throw StreamError(std::string("binlog event has an invalid packed integer in ") + what);
      default:
        return first;
    }
  }

  std::string_view bytes(std::size_t n, const char* what) {
    need(n, what);
    std::string_view view(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return view;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace sluice::replication::mysql

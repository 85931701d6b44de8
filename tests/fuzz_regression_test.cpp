// Inputs with which scripts/fuzz once crashed a decoder (tests/data/fuzz-crashes/, named after
// the bug), read the way the fuzz targets in fuzz/ read them: each must now decode or end in a
// StreamError, the decoders' answer to malformed input. Out-of-bounds reads and overflows show
// under the sanitizer build (scripts/build --sanitize), which scripts/test runs.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "replication/mysql/binlog_decoder.h"
#include "replication/postgres/pgoutput_decoder.h"
#include "replication/stream_error.h"

using sluice::replication::StreamError;
using sluice::replication::mysql::BinlogDecoder;
using sluice::replication::mysql::DecoderOptions;
using sluice::replication::postgres::PgOutputDecoder;

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Feeds `input` (binlog magic optional) to a decoder event by event, cut by each header's
// event_size as fuzz/binlog_decoder_fuzz.cpp does; stops at the first StreamError.
void decode_binlog_bytes(std::span<const std::uint8_t> input, bool full_images) {
  constexpr std::uint8_t kMagic[] = {0xfe, 'b', 'i', 'n'};
  if (input.size() >= 4 && std::equal(kMagic, kMagic + 4, input.begin())) {
    input = input.subspan(4);
  }
  BinlogDecoder decoder(DecoderOptions{.tables = {}, .full_images = full_images});
  decoder.start_at({"bin.000001", 4, "", 0}, false);
  while (!input.empty()) {
    std::size_t length = input.size();
    if (input.size() >= 19) {
      const std::uint32_t size =
          static_cast<std::uint32_t>(input[9]) | static_cast<std::uint32_t>(input[10]) << 8 |
          static_cast<std::uint32_t>(input[11]) << 16 | static_cast<std::uint32_t>(input[12]) << 24;
      if (size >= 19 && size <= input.size()) {
        length = size;
      }
    }
    try {
      decoder.feed(input.first(length));
    } catch (const StreamError&) {
      return;
    }
    input = input.subspan(length);
  }
}

// Feeds `input` to a pgoutput decoder message by message, each framed by a 4-byte big-endian
// length, as fuzz/pgoutput_decoder_fuzz.cpp does; after a StreamError the open transaction is
// forgotten, as the client does before it reconnects.
void decode_pgoutput_bytes(std::string_view input) {
  PgOutputDecoder decoder;
  while (!input.empty()) {
    std::size_t length = input.size();
    if (input.size() >= 4) {
      std::uint32_t framed = 0;
      for (int i = 0; i < 4; ++i) {
        framed = (framed << 8) | static_cast<std::uint8_t>(input[i]);
      }
      input.remove_prefix(4);
      length = framed <= input.size() ? framed : input.size();
    }
    try {
      decoder.feed(input.substr(0, length));
    } catch (const StreamError&) {
      decoder.reset_transaction();
    }
    input.remove_prefix(length);
  }
}

// The files of tests/data/fuzz-crashes whose names start with `prefix`.
std::vector<std::filesystem::path> crash_inputs(const std::string& prefix) {
  std::vector<std::filesystem::path> inputs;
  for (const auto& entry :
       std::filesystem::directory_iterator(SLUICE_TEST_DATA_DIR "/fuzz-crashes")) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) {
      inputs.push_back(entry.path());
    }
  }
  return inputs;
}

}  // namespace

TEST_CASE("binlog inputs that once crashed the decoder end in a StreamError at worst") {
  const std::vector<std::filesystem::path> inputs = crash_inputs("binlog-");
  CHECK_FALSE(inputs.empty());
  for (const std::filesystem::path& input : inputs) {
    CAPTURE(input.filename().string());
    const std::vector<std::uint8_t> bytes = read_bytes(input);
    CHECK_NOTHROW(decode_binlog_bytes(bytes, true));
    CHECK_NOTHROW(decode_binlog_bytes(bytes, false));
  }
}

TEST_CASE("pgoutput inputs that once crashed the decoder end in a StreamError at worst") {
  const std::vector<std::filesystem::path> inputs = crash_inputs("pgoutput-");
  CHECK_FALSE(inputs.empty());
  for (const std::filesystem::path& input : inputs) {
    CAPTURE(input.filename().string());
    const std::vector<std::uint8_t> bytes = read_bytes(input);
    CHECK_NOTHROW(decode_pgoutput_bytes(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  }
}

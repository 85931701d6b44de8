// Inputs with which scripts/fuzz once crashed a decoder (tests/data/fuzz-crashes/, named after
// the bug), read the way the fuzz targets in fuzz/ read them: each must now decode or end in a
// StreamError, the decoders' answer to malformed input.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "replication/mysql/binlog_decoder.h"
#include "replication/stream_error.h"

using sluice::replication::StreamError;
using sluice::replication::mysql::BinlogDecoder;
using sluice::replication::mysql::DecoderOptions;

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

}  // namespace

TEST_CASE("binlog inputs that once crashed the decoder end in a StreamError at worst") {
  const std::filesystem::path dir = SLUICE_TEST_DATA_DIR "/fuzz-crashes";
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("binlog-", 0) != 0) {
      continue;
    }
    ++inputs;
    CAPTURE(entry.path().filename().string());
    const std::vector<std::uint8_t> bytes = read_bytes(entry.path());
    CHECK_NOTHROW(decode_binlog_bytes(bytes, true));
    CHECK_NOTHROW(decode_binlog_bytes(bytes, false));
  }
  CHECK(inputs > 0);
}

// libFuzzer target: the binlog event decoder on arbitrary bytes. The input is read like a binlog
// file (the 4 magic bytes are optional), cut into events by each header's event_size, and fed
// in order to two decoders, one decoding full row images and one decoding keys only. A
// StreamError is the decoder's documented answer to a malformed event; any other exception,
// crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "replication/mysql/binlog_decoder.h"
#include "replication/stream_error.h"

namespace {

using sluice::replication::StreamError;
using sluice::replication::mysql::BinlogDecoder;
using sluice::replication::mysql::DecoderOptions;

constexpr std::size_t kHeaderSize = 19;
constexpr std::size_t kEventSizeOffset = 9;
constexpr std::uint8_t kBinlogMagic[] = {0xfe, 'b', 'i', 'n'};

// Feeds `event` to `decoder` unless an earlier event already stopped it.
void feed(BinlogDecoder& decoder, bool& stopped, std::span<const std::uint8_t> event) {
  if (stopped) {
    return;
  }
  try {
    decoder.feed(event);
  } catch (const StreamError&) {
    stopped = true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);
  if (input.size() >= sizeof(kBinlogMagic) &&
      std::memcmp(input.data(), kBinlogMagic, sizeof(kBinlogMagic)) == 0) {
    input = input.subspan(sizeof(kBinlogMagic));
  }
  BinlogDecoder full_images(DecoderOptions{});
  BinlogDecoder keys_only(DecoderOptions{.tables = {}, .full_images = false});
  full_images.start_at({"bin.000001", 4, "", 0}, false);
  keys_only.start_at({"bin.000001", 4, "", 0}, false);
  bool full_stopped = false;
  bool keys_stopped = false;
  while (!input.empty()) {
    std::size_t length = input.size();
    if (input.size() >= kHeaderSize) {
      std::uint32_t event_size = 0;
      for (int i = 3; i >= 0; --i) {
        event_size = (event_size << 8) | input[kEventSizeOffset + i];
      }
      // A size the bytes cannot hold still reaches the decoder as the rest of the input: how
      // it treats a lying header is part of what is fuzzed.
      if (event_size >= kHeaderSize && event_size <= input.size()) {
        length = event_size;
      }
    }
    const std::span<const std::uint8_t> event = input.first(length);
    feed(full_images, full_stopped, event);
    feed(keys_only, keys_stopped, event);
    input = input.subspan(length);
  }
  return 0;
}

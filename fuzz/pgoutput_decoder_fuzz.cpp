// libFuzzer target: the pgoutput decoder on arbitrary bytes. The input is a sequence of
// messages, each a 4-byte big-endian length and that many bytes (the framing of
// tests/data/pgoutput-*.bin, captured from a real slot by scripts/record-pgoutput-fixtures); a
// length the input cannot hold takes the rest. A StreamError is the decoder's documented answer
// to a malformed message, after which the stream would reconnect: the harness then forgets the
// open transaction, as the client does. Any other exception, crash or sanitizer report is a
// bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "replication/postgres/pgoutput_decoder.h"
#include "replication/stream_error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  sluice::replication::postgres::PgOutputDecoder decoder;
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
    } catch (const sluice::replication::StreamError&) {
      decoder.reset_transaction();
    }
    input.remove_prefix(length);
  }
  return 0;
}

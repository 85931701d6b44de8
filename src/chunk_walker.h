#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

namespace sluice {

// A key range (after, up_to]: from the start of the key when `after` is nullopt.
template <typename Key>
struct KeyChunk {
  std::optional<Key> after;
  Key up_to;
};

// Walks a table in key order, one chunk at a time, for the copy, verification and the
// backfill. The server picks each chunk's end (`next_end`: the key about `rows` keys after a
// key, or nullopt when none is left), so no key is ever compared or ordered in the client. The
// watermark is the end of the last chunk the caller reported done: every key up to it has been
// dealt with, so a walk resumed from it misses nothing.
template <typename Key>
class ChunkWalker {
 public:
  using NextEnd =
      std::function<std::optional<Key>(const std::optional<Key>& after, std::uint64_t rows)>;

  ChunkWalker(NextEnd next_end, std::optional<Key> watermark = {})
      : next_end_(std::move(next_end)), watermark_(std::move(watermark)) {}

  // The chunk of about `rows` keys after the watermark, or nullopt when no key is left.
  std::optional<KeyChunk<Key>> next(std::uint64_t rows) {
    std::optional<Key> end = next_end_(watermark_, rows);
    if (!end) {
      return std::nullopt;
    }
    return KeyChunk<Key>{watermark_, std::move(*end)};
  }

  // `chunk` (the last one next() returned) is dealt with: the watermark moves to its end.
  void done(const KeyChunk<Key>& chunk) { watermark_ = chunk.up_to; }

  const std::optional<Key>& watermark() const { return watermark_; }

 private:
  NextEnd next_end_;
  std::optional<Key> watermark_;
};

}  // namespace sluice

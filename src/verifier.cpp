#include "src/verifier.h"

#include <future>

namespace sluice {
namespace {

using replication::Row;

std::string describe(const std::optional<Row>& after, const std::optional<Row>& up_to,
                     const ChunkSum& source, const ChunkSum& shadow) {
  return "keys after " + (after ? replication::format_value(after->front()) : "start") + " up to " +
         (up_to ? replication::format_value(up_to->front()) : "the end") + ": original has " +
         std::to_string(source.rows) + " rows, shadow " + std::to_string(shadow.rows);
}

// Sums both sides of (after, up_to] in parallel and records what the comparison found; returns
// whether either side holds rows there.
bool compare_range(VerifySnapshots& snapshots, const std::optional<Row>& after,
                   const std::optional<Row>& up_to, VerifyResult& result) {
  std::future<ChunkSum> shadow_sum =
      std::async(std::launch::async, [&] { return snapshots.shadow_sum(after, up_to); });
  const ChunkSum source = snapshots.source_sum(after, up_to);
  const ChunkSum shadow = shadow_sum.get();
  result.rows += source.rows + source.discarded;
  result.discarded += source.discarded;
  if (source.unexplained) {
    result.mismatches.push_back({after, up_to, *source.unexplained});
  } else if (source.rows != shadow.rows || source.checksum != shadow.checksum) {
    result.mismatches.push_back({after, up_to, describe(after, up_to, source, shadow)});
  }
  return source.rows + source.discarded + shadow.rows > 0;
}

}  // namespace

VerifyResult verify_chunks(VerifySnapshots& snapshots, std::uint64_t chunk_rows) {
  VerifyResult result;
  ChunkWalker<Row> walker([&](const std::optional<Row>& after, std::uint64_t rows) {
    return snapshots.chunk_end(after, rows);
  });
  while (std::optional<KeyChunk<Row>> chunk = walker.next(chunk_rows)) {
    compare_range(snapshots, chunk->after, chunk->up_to, result);
    ++result.chunks;
    walker.done(*chunk);
  }
  // The rows past the last end: none on either side when the ends come from the source's
  // snapshot, which the shadow's count then proves; some, equal on both sides, when a family
  // reads its ends elsewhere (VerifySnapshots::chunk_end).
  if (compare_range(snapshots, walker.watermark(), std::nullopt, result)) {
    ++result.chunks;
  }
  snapshots.finish();
  return result;
}

}  // namespace sluice

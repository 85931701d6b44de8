#include "src/verifier.h"

#include <future>

namespace sluice {
namespace {

using replication::Row;

std::string describe(const std::optional<Row>& after, const Row& up_to, const ChunkSum& source,
                     const ChunkSum& shadow) {
  return "keys after " + (after ? replication::format_value(after->front()) : "start") + " up to " +
         replication::format_value(up_to.front()) + ": original has " +
         std::to_string(source.rows) + " rows, shadow " + std::to_string(shadow.rows);
}

}  // namespace

VerifyResult verify_chunks(VerifySnapshots& snapshots, std::uint64_t chunk_rows) {
  VerifyResult result;
  ChunkWalker<Row> walker([&](const std::optional<Row>& after, std::uint64_t rows) {
    return snapshots.chunk_end(after, rows);
  });
  while (std::optional<KeyChunk<Row>> chunk = walker.next(chunk_rows)) {
    std::future<ChunkSum> shadow_sum = std::async(
        std::launch::async, [&] { return snapshots.shadow_sum(chunk->after, chunk->up_to); });
    const ChunkSum source = snapshots.source_sum(chunk->after, chunk->up_to);
    const ChunkSum shadow = shadow_sum.get();
    ++result.chunks;
    result.rows += source.rows + source.discarded;
    result.discarded += source.discarded;
    if (source.unexplained) {
      result.mismatches.push_back({chunk->after, chunk->up_to, *source.unexplained});
    } else if (source.rows != shadow.rows || source.checksum != shadow.checksum) {
      result.mismatches.push_back(
          {chunk->after, chunk->up_to, describe(chunk->after, chunk->up_to, source, shadow)});
    }
    walker.done(*chunk);
  }
  // Rows in the shadow beyond the original's last key would be missed by the loop above.
  const ChunkSum beyond = snapshots.shadow_sum(walker.watermark(), std::nullopt);
  if (beyond.rows != 0) {
    result.mismatches.push_back(
        {walker.watermark(), std::nullopt,
         "the shadow has " + std::to_string(beyond.rows) + " rows beyond the original's last key"});
  }
  snapshots.finish();
  return result;
}

}  // namespace sluice

#include "src/copier.h"

#include <algorithm>

namespace sluice {

ChunkSizer::ChunkSizer(std::uint64_t initial_rows, std::chrono::milliseconds target,
                       std::uint64_t min_rows, std::uint64_t max_rows)
    : rows_(std::clamp(initial_rows, min_rows, max_rows)),
      target_(target),
      min_rows_(min_rows),
      max_rows_(max_rows) {}

void ChunkSizer::record(std::uint64_t rows, std::chrono::nanoseconds elapsed) {
  if (rows == 0 || pinned_) {
    return;
  }
  const double seconds = std::max(1e-6, std::chrono::duration<double>(elapsed).count());
  const double wanted =
      static_cast<double>(rows) / seconds * std::chrono::duration<double>(target_).count();
  const double current = static_cast<double>(rows_);
  const double next = std::clamp(wanted, current / 2, current * 2);
  rows_ = std::clamp(static_cast<std::uint64_t>(next), min_rows_, max_rows_);
}

void ChunkSizer::pin(std::optional<std::uint64_t> rows) {
  if (rows != pinned_ && rows) {
    rows_ = std::max<std::uint64_t>(1, *rows);
  }
  pinned_ = rows;
}

void ChunkSizer::record_copied(std::uint64_t asked, std::uint64_t copied) {
  if (!pinned_ || asked == 0) {
    return;
  }
  const double current = static_cast<double>(asked);
  const double wanted = copied == 0
                            ? current * 2
                            : current * static_cast<double>(*pinned_) / static_cast<double>(copied);
  const double next = std::clamp(wanted, current / 2, current * 2);
  rows_ = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(next), std::min(*pinned_, min_rows_),
                                    std::max(*pinned_, max_rows_));
}

Copier::Copier(CopySource& source, ChunkSizer sizer, std::optional<replication::Row> watermark)
    : source_(source),
      sizer_(sizer),
      walker_([&source](const std::optional<replication::Row>& after,
                        std::uint64_t rows) { return source.chunk_end(after, rows); },
              std::move(watermark)) {}

bool Copier::copy_next_chunk() {
  const std::uint64_t rows = sizer_.rows();
  const std::optional<KeyChunk<replication::Row>> chunk = walker_.next(rows);
  if (!chunk) {
    return false;
  }
  const auto started = std::chrono::steady_clock::now();
  const std::uint64_t copied = source_.copy_range(chunk->after, chunk->up_to);
  // The size asked for, not the rows copied: a source may size chunks as key spans with gaps.
  sizer_.record(rows, std::chrono::steady_clock::now() - started);
  sizer_.record_copied(rows, copied);
  rows_copied_ += copied;
  walker_.done(*chunk);
  return true;
}

}  // namespace sluice

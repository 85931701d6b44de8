#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "replication/change_event.h"
#include "src/chunk_walker.h"

namespace sluice {

// Picks how many rows the next chunk copies so that a chunk takes about the target time: long
// chunks hold row locks and delay the change stream, short ones waste round trips.
class ChunkSizer {
 public:
  ChunkSizer(std::uint64_t initial_rows, std::chrono::milliseconds target,
             std::uint64_t min_rows = 100, std::uint64_t max_rows = 1'000'000);

  std::uint64_t rows() const { return rows_; }

  // Feeds back how long a chunk of `rows` rows took. The next size moves toward the rate seen,
  // by at most a factor of 2 either way so one slow chunk (a lock wait) does not collapse it.
  void record(std::uint64_t rows, std::chrono::nanoseconds elapsed);

  // Fixes the size at about `rows` rows copied per chunk (a user's choice wins over the measured
  // rate) or, with nullopt, returns to sizing by the target time from the current size.
  void pin(std::optional<std::uint64_t> rows);

  // Feeds back how many rows a chunk of `asked` rows copied. Only a pinned size uses it: a source
  // that sizes chunks as key spans copies fewer rows than asked across gaps, so the span widens
  // (by at most a factor of 2 per chunk) until chunks copy about the pinned number of rows.
  void record_copied(std::uint64_t asked, std::uint64_t copied);

 private:
  std::uint64_t rows_;
  std::chrono::milliseconds target_;
  std::uint64_t min_rows_;
  std::uint64_t max_rows_;
  std::optional<std::uint64_t> pinned_;
};

// The backend's part of a copy: finding chunk boundaries and copying one key range into the
// shadow table with one statement.
class CopySource {
 public:
  virtual ~CopySource() = default;

  // Where the next chunk of about `rows` rows after `after` (from the start when nullopt) ends:
  // the key of the `rows`-th row, or, for a dense integer key, `after` + `rows`; never beyond the
  // last key. nullopt when no row remains after `after`.
  virtual std::optional<replication::Row> chunk_end(const std::optional<replication::Row>& after,
                                                    std::uint64_t rows) = 0;

  // Copies the rows with `after` < key <= `up_to` and returns how many the server read.
  virtual std::uint64_t copy_range(const std::optional<replication::Row>& after,
                                   const replication::Row& up_to) = 0;
};

// Walks the table in key order, one chunk per call, from a watermark: every key up to the
// watermark is committed in the shadow table, so a copy can resume from it.
class Copier {
 public:
  Copier(CopySource& source, ChunkSizer sizer, std::optional<replication::Row> watermark = {});

  // Copies the next chunk. Returns false when the table has no row after the watermark.
  bool copy_next_chunk();

  const std::optional<replication::Row>& watermark() const { return walker_.watermark(); }
  std::uint64_t rows_copied() const { return rows_copied_; }
  std::uint64_t chunk_rows() const { return sizer_.rows(); }
  void pin_chunk_rows(std::optional<std::uint64_t> rows) { sizer_.pin(rows); }

 private:
  CopySource& source_;
  ChunkSizer sizer_;
  ChunkWalker<replication::Row> walker_;
  std::uint64_t rows_copied_ = 0;
};

}  // namespace sluice

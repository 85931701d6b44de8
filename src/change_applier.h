#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

#include "replication/change_event.h"

namespace sluice {

// What the Migrator hands the change stream to between chunks: it carries committed source
// changes over to the shadow table under the copy invariant (docs/architecture.md §3). A family
// picks the kind (RebuildBackend::make_applier): PostgreSQL's Applier writes row images and
// holds changes above the copy's watermark; MySQL's ResyncApplier re-reads changed keys from
// the source and holds nothing.
class ChangeApplier {
 public:
  virtual ~ChangeApplier() = default;

  // Takes the changes of one committed source transaction.
  virtual void add(const replication::Transaction& transaction) = 0;

  // The copier has committed every row with a key up to and including `key`.
  virtual void advance_watermark(const replication::Row& key) = 0;

  // The copier has committed every row.
  virtual void finish_copy() = 0;

  // Writes everything applicable and returns how many keys it wrote.
  virtual std::size_t flush() = 0;

  // Keys waiting for the next flush, keys held back for the copy, keys written so far.
  virtual std::size_t pending() const = 0;
  virtual std::size_t held() const = 0;
  virtual std::size_t applied() const = 0;

  // The time flush() has taken so far: the applier's own share of a catch-up, as against the
  // time spent waiting for the stream.
  std::chrono::steady_clock::duration flush_time() const { return flush_time_; }

  // Of pending() and held(), how many keys take memory; the Migrator stops reading the stream
  // while this is at its limit. An applier that spills to disk keeps it bounded itself.
  virtual std::size_t in_memory() const { return pending() + held(); }

 protected:
  // Adds the time of its scope to flush_time(); each implementation's flush() holds one.
  class FlushTimer {
   public:
    explicit FlushTimer(ChangeApplier& applier)
        : total_(applier.flush_time_), started_(std::chrono::steady_clock::now()) {}
    ~FlushTimer() { total_ += std::chrono::steady_clock::now() - started_; }
    FlushTimer(const FlushTimer&) = delete;
    FlushTimer& operator=(const FlushTimer&) = delete;

   private:
    std::chrono::steady_clock::duration& total_;
    std::chrono::steady_clock::time_point started_;
  };

 private:
  std::chrono::steady_clock::duration flush_time_{};
};

// The values of `key_columns` (indexes into the row) in a change's row image. Throws
// Error(ExitCode::failure) when the image has fewer columns than the key needs.
replication::Row key_of(const replication::Row& image, const std::vector<std::size_t>& key_columns);

}  // namespace sluice

#pragma once

#include <cstddef>
#include <set>
#include <vector>

#include "replication/change_event.h"
#include "src/change_applier.h"
#include "src/key_spill.h"

namespace sluice {

// Brings keys of the shadow table back in line with the source. Implemented by a family whose
// server can tell when a logged change has become visible (MySQL: mysql_apply.h).
class ShadowResync {
 public:
  virtual ~ShadowResync() = default;

  // Once every source transaction up to `through` is visible to new reads, in one shadow
  // transaction: deletes the shadow rows whose key equals one of `keys` and inserts the source's
  // current rows for them. The server decides which rows a key matches, by the key columns'
  // collations. Safe to redo: it only ever writes the source's current rows.
  virtual void resync(const std::vector<replication::Row>& keys,
                      const replication::Position& through) = 0;
};

// The applier that re-synchronises each changed key from the source (docs/architecture.md §3,
// MySQL): it keeps, for the next flush, the key before and after every change it is given, and
// never orders or compares two keys by their meaning, so keys of any type and collation work.
// Nothing is held for the copy: a re-read after the change is visible is right whether the
// copier has reached the key or not. Identical byte strings are sent once; two spellings the
// server thinks equal ('a' and 'A' under a _ci collation) are both sent and match the same row.
// Memory stays bounded: past `keys_in_memory` distinct keys waiting for the next flush, they go
// to a temporary file (KeySpill) instead of pausing the stream, and a flush re-synchronises
// them in batches of max(`keys_in_memory`, kMinBatch) keys (docs/architecture.md §3.1, rule 7).
class ResyncApplier final : public ChangeApplier {
 public:
  static constexpr std::size_t kDefaultKeysInMemory = 100'000;
  // The fewest keys a batch read back from the file carries (the limit permitting more).
  static constexpr std::size_t kMinBatch = 1000;

  // `key_columns` index into source row images; `keys_in_memory` is at least 1.
  ResyncApplier(ShadowResync& shadow, std::vector<std::size_t> key_columns,
                std::size_t keys_in_memory = kDefaultKeysInMemory);

  // Throws Error for an update or delete without a before image (the binlog must log full
  // row images).
  void add(const replication::Transaction& transaction) override;
  // Nothing to release: no change waits for the copy.
  void advance_watermark(const replication::Row& /*key*/) override {}
  void finish_copy() override {}
  // Re-synchronises every key taken since the last flush, through the last transaction taken:
  // the spilled keys in batches of max(`keys_in_memory`, kMinBatch), then those in memory, one
  // ShadowResync::resync (one shadow transaction) per batch.
  std::size_t flush() override;

  // Keys waiting for the next flush, spilled ones included; only those in memory count against
  // the Migrator's limit, so the stream never pauses for this applier.
  std::size_t pending() const override { return keys_.size() + spill_.size(); }
  std::size_t held() const override { return 0; }
  std::size_t in_memory() const override { return keys_.size(); }
  std::size_t applied() const override { return applied_; }
  // Keys written to the temporary file since the run began.
  std::size_t spilled() const { return spilled_; }

 private:
  // Orders keys by kind and bytes, only to drop exact repeats of a key from a batch.
  struct SameBytes {
    bool operator()(const replication::Row& a, const replication::Row& b) const;
  };

  replication::Row key_of(const replication::Row& image) const;
  void take(replication::Row key);

  ShadowResync& shadow_;
  std::vector<std::size_t> key_columns_;
  std::size_t keys_in_memory_;
  std::set<replication::Row, SameBytes> keys_;
  KeySpill spill_;
  replication::Position through_;
  std::size_t applied_ = 0;
  std::size_t spilled_ = 0;
};

}  // namespace sluice

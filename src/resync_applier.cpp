#include "src/resync_applier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

#include "src/error.h"

namespace sluice {

using replication::Operation;
using replication::Row;

bool ResyncApplier::SameBytes::operator()(const Row& a, const Row& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](const auto& x, const auto& y) {
                                        return std::tie(x.kind, x.text) < std::tie(y.kind, y.text);
                                      });
}

ResyncApplier::ResyncApplier(ShadowResync& shadow, std::vector<std::size_t> key_columns,
                             std::size_t keys_in_memory)
    : shadow_(shadow),
      key_columns_(std::move(key_columns)),
      keys_in_memory_(std::max<std::size_t>(1, keys_in_memory)) {}

void ResyncApplier::take(Row key) {
  keys_.insert(std::move(key));
  if (keys_.size() < keys_in_memory_) {
    return;
  }
  // The same key may now be both on disk and in memory, or twice on disk: a repeat only costs
  // a duplicate in an IN list, never a wrong row (the server re-reads the key's current row).
  if (spill_.size() == 0) {
    spdlog::info(
        "more than {} changed keys wait for the next write into the shadow table: the rest go to "
        "a temporary file",
        keys_in_memory_ - 1);
  }
  spill_.write(std::vector<Row>(keys_.begin(), keys_.end()));
  spilled_ += keys_.size();
  keys_.clear();
}

Row ResyncApplier::key_of(const Row& image) const {
  return sluice::key_of(image, key_columns_);
}

void ResyncApplier::add(const replication::Transaction& transaction) {
  for (const replication::ChangeEvent& change : transaction.changes) {
    if (change.operation != Operation::insert && change.operation != Operation::update &&
        change.operation != Operation::erase) {
      // The schema guard stops the run on these before they get here.
      throw Error(ExitCode::failure, "a TRUNCATE or schema change cannot be applied row by row");
    }
    if (change.operation != Operation::insert) {
      if (!change.before) {
        throw Error(ExitCode::failure,
                    "a change event has no before image; the server must log full row images");
      }
      take(key_of(*change.before));
    }
    if (change.operation != Operation::erase) {
      if (!change.after) {
        throw Error(ExitCode::failure,
                    "a change event has no after image; the server must log full row images");
      }
      take(key_of(*change.after));
    }
  }
  through_ = transaction.commit_position;
}

std::size_t ResyncApplier::flush() {
  const FlushTimer timer(*this);
  // Batches are separate transactions. That is safe (§3.1, rule 7): each batch re-reads its
  // keys after every change up to `through_` is visible, and a shadow row a batch's REPLACE
  // removes for a unique value belongs to a key whose own change is re-read after it.
  // Batches read back are never smaller than kMinBatch keys: a tiny limit (a test's) must not
  // make a flush one transaction per key, which a busy writer could outrun.
  const std::size_t batch_size = std::max(keys_in_memory_, kMinBatch);
  std::size_t written = 0;
  for (std::vector<Row> batch = spill_.read(batch_size); !batch.empty();
       batch = spill_.read(batch_size)) {
    shadow_.resync(batch, through_);
    written += batch.size();
  }
  if (!keys_.empty()) {
    const std::vector<Row> keys(keys_.begin(), keys_.end());
    shadow_.resync(keys, through_);
    keys_.clear();
    written += keys.size();
  }
  applied_ += written;
  return written;
}

}  // namespace sluice

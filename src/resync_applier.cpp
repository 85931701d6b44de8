#include "src/resync_applier.h"

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

ResyncApplier::ResyncApplier(ShadowResync& shadow, std::vector<std::size_t> key_columns)
    : shadow_(shadow), key_columns_(std::move(key_columns)) {}

Row ResyncApplier::key_of(const Row& image) const {
  Row key;
  key.reserve(key_columns_.size());
  for (std::size_t column : key_columns_) {
    if (column >= image.size()) {
      throw Error(ExitCode::failure, "a change event carries fewer columns than the table has");
    }
    key.push_back(image[column]);
  }
  return key;
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
      keys_.insert(key_of(*change.before));
    }
    if (change.operation != Operation::erase) {
      if (!change.after) {
        throw Error(ExitCode::failure,
                    "a change event has no after image; the server must log full row images");
      }
      keys_.insert(key_of(*change.after));
    }
  }
  through_ = transaction.commit_position;
}

std::size_t ResyncApplier::flush() {
  if (keys_.empty()) {
    return 0;
  }
  const std::vector<Row> keys(keys_.begin(), keys_.end());
  shadow_.resync(keys, through_);
  keys_.clear();
  applied_ += keys.size();
  return keys.size();
}

}  // namespace sluice

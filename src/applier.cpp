#include "src/applier.h"

#include <algorithm>

#include "src/error.h"

namespace sluice {

using replication::ChangeEvent;
using replication::Operation;
using replication::Row;

Applier::Applier(ShadowWriter& writer, std::vector<std::size_t> key_columns,
                 std::vector<std::size_t> mapped_columns)
    : writer_(writer),
      key_columns_(std::move(key_columns)),
      mapped_columns_(std::move(mapped_columns)) {}

Row Applier::key_of(const Row& image) const {
  return sluice::key_of(image, key_columns_);
}

Row Applier::old_key_of(const ChangeEvent& change) const {
  if (change.before) {
    return key_of(*change.before);
  }
  // The event's key lists the replica identity's columns in the stream's order; pick them out
  // in the order of the key the copy walks.
  if (!change.table || change.table->key_columns.size() != change.key_before.size()) {
    throw Error(ExitCode::failure,
                "a change event has neither a before image nor a key; the server must log the "
                "key of every updated or deleted row");
  }
  Row key;
  key.reserve(key_columns_.size());
  for (std::size_t column : key_columns_) {
    const auto& stream_key = change.table->key_columns;
    const auto found = std::find(stream_key.begin(), stream_key.end(), column);
    if (found == stream_key.end()) {
      throw Error(ExitCode::failure,
                  "the change stream identifies rows by other columns than the key the copy "
                  "walks; give the table a primary key and run sluice again");
    }
    key.push_back(change.key_before[static_cast<std::size_t>(found - stream_key.begin())]);
  }
  return key;
}

const Applier::KeyState* Applier::find_state(const Row& key) const {
  if (auto found = pending_.find(key); found != pending_.end()) {
    return &found->second;
  }
  if (auto found = held_.find(key); found != held_.end()) {
    return &found->second;
  }
  return nullptr;
}

bool Applier::below_watermark(const Row& key) const {
  return copy_finished_ || (watermark_ && compare_keys(key, *watermark_) <= 0);
}

void Applier::record(Row key, KeyState state) {
  // A key lives in one map only: a held state may move below the watermark and a state recorded
  // now must replace it wherever it is.
  pending_.erase(key);
  held_.erase(key);
  KeyStates& states = below_watermark(key) ? pending_ : held_;
  states.insert_or_assign(std::move(key), std::move(state));
}

void Applier::add(const replication::Transaction& transaction) {
  for (const ChangeEvent& change : transaction.changes) {
    if (change.operation != Operation::erase && !change.after) {
      throw Error(ExitCode::failure,
                  "a change event has no after image; the server must log full row images");
    }
    std::optional<Row> old_key;
    KeyState previous;  // the old key's latest known state, for unchanged-TOAST values
    if (change.operation != Operation::insert) {
      old_key = old_key_of(change);
      if (const KeyState* state = find_state(*old_key)) {
        previous = *state;
      }
      const bool key_kept = change.operation == Operation::update &&
                            compare_keys(*old_key, key_of(*change.after)) == 0;
      if (!key_kept) {
        record(*old_key, KeyState{});
      }
    }
    if (change.operation != Operation::erase) {
      KeyState state;
      state.image.emplace();
      state.image->reserve(mapped_columns_.size());
      bool unchanged = false;
      for (std::size_t i = 0; i < mapped_columns_.size(); ++i) {
        replication::Value value = (*change.after)[mapped_columns_[i]];
        if (value.kind == replication::ValueKind::unchanged && previous.image) {
          value = (*previous.image)[i];
        }
        unchanged = unchanged || value.kind == replication::ValueKind::unchanged;
        state.image->push_back(std::move(value));
      }
      if (unchanged) {
        // Not in memory: the shadow row under the old key has the value, unless the previous
        // image itself was waiting for it from another row.
        if (!old_key) {
          throw Error(ExitCode::failure,
                      "an inserted row carries an unchanged-value marker, which the server never "
                      "sends for an insert");
        }
        state.fill_from = previous.image ? previous.fill_from : *old_key;
      }
      record(key_of(*change.after), std::move(state));
    }
  }
}

void Applier::advance_watermark(const Row& key) {
  watermark_ = key;
  auto end = held_.upper_bound(key);
  for (auto it = held_.begin(); it != end;) {
    auto node = held_.extract(it++);
    pending_.insert(std::move(node));
  }
}

void Applier::finish_copy() {
  copy_finished_ = true;
  pending_.merge(held_);
}

std::size_t Applier::flush() {
  const FlushTimer timer(*this);
  if (pending_.empty()) {
    return 0;
  }
  std::vector<Row> delete_keys;
  std::vector<Row> rows;
  std::vector<Row> fill_from;
  delete_keys.reserve(pending_.size());
  for (auto& [key, state] : pending_) {
    delete_keys.push_back(key);
    if (state.image) {
      rows.push_back(std::move(*state.image));
      fill_from.push_back(std::move(state.fill_from));
    }
  }
  writer_.replace_rows(delete_keys, rows, fill_from);
  const std::size_t written = pending_.size();
  applied_ += written;
  pending_.clear();
  return written;
}

}  // namespace sluice

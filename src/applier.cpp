#include "src/applier.h"

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

bool Applier::below_watermark(const Row& key) const {
  return copy_finished_ || (watermark_ && compare_keys(key, *watermark_) <= 0);
}

void Applier::record(Row key, std::optional<Row> image) {
  KeyStates& states = below_watermark(key) ? pending_ : held_;
  states.insert_or_assign(std::move(key), std::move(image));
}

void Applier::add(const replication::Transaction& transaction) {
  for (const ChangeEvent& change : transaction.changes) {
    if (change.operation == Operation::truncate) {
      throw Error(ExitCode::failure,
                  "the table was truncated while it was being migrated, which the copy cannot "
                  "follow; the migration stops and the original table is untouched");
    }
    if (change.operation != Operation::insert && !change.before) {
      throw Error(ExitCode::failure,
                  "a change event has no before image; the server must log full row images");
    }
    if (change.operation != Operation::erase && !change.after) {
      throw Error(ExitCode::failure,
                  "a change event has no after image; the server must log full row images");
    }
    if (change.operation != Operation::insert) {
      Row old_key = key_of(*change.before);
      const bool key_kept = change.operation == Operation::update &&
                            compare_keys(old_key, key_of(*change.after)) == 0;
      if (!key_kept) {
        record(std::move(old_key), std::nullopt);
      }
    }
    if (change.operation != Operation::erase) {
      Row image;
      image.reserve(mapped_columns_.size());
      for (std::size_t column : mapped_columns_) {
        image.push_back((*change.after)[column]);
      }
      record(key_of(*change.after), std::move(image));
    }
  }
}

void Applier::advance_watermark(const Row& key) {
  watermark_ = key;
  auto end = held_.upper_bound(key);
  for (auto it = held_.begin(); it != end;) {
    auto node = held_.extract(it++);
    pending_.insert_or_assign(std::move(node.key()), std::move(node.mapped()));
  }
}

void Applier::finish_copy() {
  copy_finished_ = true;
  for (auto it = held_.begin(); it != held_.end();) {
    auto node = held_.extract(it++);
    pending_.insert_or_assign(std::move(node.key()), std::move(node.mapped()));
  }
}

std::size_t Applier::flush() {
  if (pending_.empty()) {
    return 0;
  }
  std::vector<Row> delete_keys;
  std::vector<Row> rows;
  delete_keys.reserve(pending_.size());
  for (auto& [key, image] : pending_) {
    delete_keys.push_back(key);
    if (image) {
      rows.push_back(*image);
    }
  }
  writer_.replace_rows(delete_keys, rows);
  const std::size_t written = pending_.size();
  applied_ += written;
  pending_.clear();
  return written;
}

}  // namespace sluice

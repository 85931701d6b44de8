#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "replication/change_event.h"
#include "src/key_order.h"

namespace sluice {

// Writes changes into the shadow table. Implemented by each backend.
class ShadowWriter {
 public:
  virtual ~ShadowWriter() = default;

  // In one transaction: deletes every row whose key is in `delete_keys`, then writes `rows`
  // (values of the mapped columns, in mapping order). Deleting first makes rows that swapped a
  // unique value in one source transaction land without a conflict. A row may still collide on
  // a unique value with a row the copier read later than this change: the writer then replaces
  // that row, whose own later change is still coming through the stream and restores it.
  //
  // `fill_from` runs parallel to `rows`. A row may hold ValueKind::unchanged values (PostgreSQL
  // sends an unchanged TOASTed value as a marker, not as data); fill_from[i] is then the key of
  // the shadow row that holds those values before this write (the row's own key, or its key
  // before an update moved it), and empty when rows[i] has no such value.
  virtual void replace_rows(const std::vector<replication::Row>& delete_keys,
                            const std::vector<replication::Row>& rows,
                            const std::vector<replication::Row>& fill_from) = 0;
};

// Carries committed source changes over to the shadow table under the copy invariant
// (docs/architecture.md §3): only full row images are written, never re-read from the source; the
// latest image per key wins (hot keys collapse); a change to a key the copier has not committed yet
// is held until the chunk covering it commits, so a delete applied early can never be undone by a
// chunk whose snapshot still saw the row.
class Applier {
 public:
  // `key_columns` and `mapped_columns` index into source row images.
  Applier(ShadowWriter& writer, std::vector<std::size_t> key_columns,
          std::vector<std::size_t> mapped_columns);

  // Takes the changes of one committed source transaction.
  void add(const replication::Transaction& transaction);

  // The copier has committed every row with a key up to and including `key`.
  void advance_watermark(const replication::Row& key);

  // The copier has committed every row: nothing is held any more.
  void finish_copy();

  // Writes everything applicable in one transaction and returns how many keys it wrote.
  std::size_t flush();

  std::size_t pending() const { return pending_.size(); }
  std::size_t held() const { return held_.size(); }
  std::size_t applied() const { return applied_; }

 private:
  struct KeyLess {
    bool operator()(const replication::Row& a, const replication::Row& b) const {
      return compare_keys(a, b) < 0;
    }
  };
  // The latest state of one key: a row image (nullopt for "deleted") and, while the image still
  // holds unchanged-TOAST markers, the key of the shadow row that has their values.
  struct KeyState {
    std::optional<replication::Row> image;
    replication::Row fill_from;
  };
  using KeyStates = std::map<replication::Row, KeyState, KeyLess>;

  replication::Row key_of(const replication::Row& image) const;
  // The key a row had before an update or delete: from the full before image when the stream
  // sends one (binlog), else from the event's key (PostgreSQL's default replica identity).
  replication::Row old_key_of(const replication::ChangeEvent& change) const;
  const KeyState* find_state(const replication::Row& key) const;
  void record(replication::Row key, KeyState state);
  bool below_watermark(const replication::Row& key) const;

  ShadowWriter& writer_;
  std::vector<std::size_t> key_columns_;
  std::vector<std::size_t> mapped_columns_;
  std::optional<replication::Row> watermark_;
  bool copy_finished_ = false;
  KeyStates pending_;
  KeyStates held_;
  std::size_t applied_ = 0;
};

}  // namespace sluice

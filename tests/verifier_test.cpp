// The engine's verification loop (src/verifier.*) over two in-memory "snapshots", with chunk ends
// that may come from another view of the table (VerifySnapshots::chunk_end).
#include "src/verifier.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <mutex>

using sluice::ChunkSum;
using sluice::VerifyResult;
using sluice::replication::Row;
using sluice::replication::Value;
using sluice::replication::ValueKind;

namespace {

using Table = std::map<long, std::string>;

Row key(long id) {
  return Row{Value{ValueKind::number, std::to_string(id)}};
}

long id_of(const Row& row) {
  return std::stol(row.at(0).text);
}

// `source` and `shadow` are the two snapshots; chunk ends are read from `ends`, which stands for
// the table as it is now (a family may read them outside the snapshots).
class Snapshots : public sluice::VerifySnapshots {
 public:
  Snapshots(Table source, Table shadow, Table ends)
      : source_(std::move(source)), shadow_(std::move(shadow)), ends_(std::move(ends)) {}

  std::optional<Row> chunk_end(const std::optional<Row>& after, std::uint64_t rows) override {
    auto it = after ? ends_.upper_bound(id_of(*after)) : ends_.begin();
    std::optional<Row> end;
    for (std::uint64_t n = 1; it != ends_.end() && n <= rows; ++it, ++n) {
      end = key(it->first);
    }
    return end;
  }
  ChunkSum source_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    return sum(source_, after, up_to);
  }
  ChunkSum shadow_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    return sum(shadow_, after, up_to);
  }
  void finish() override {}

 private:
  static ChunkSum sum(const Table& table, const std::optional<Row>& after,
                      const std::optional<Row>& up_to) {
    ChunkSum sum;
    std::size_t hash = 0;
    for (const auto& [id, value] : table) {
      if ((!after || id > id_of(*after)) && (!up_to || id <= id_of(*up_to))) {
        ++sum.rows;
        hash ^= std::hash<std::string>{}(std::to_string(id) + "#" + value);
      }
    }
    sum.checksum = std::to_string(hash);
    return sum;
  }

  Table source_;
  Table shadow_;
  Table ends_;
};

Table rows(long first, long last) {
  Table table;
  for (long id = first; id <= last; ++id) {
    table[id] = "v" + std::to_string(id);
  }
  return table;
}

}  // namespace

TEST_CASE("equal snapshots verify, whatever view the chunk ends come from") {
  const Table snapshot = rows(1, 25);
  // Now the table's tail is gone: the ends run out early, at 9.
  Snapshots tail_deleted(snapshot, snapshot, rows(1, 9));
  const VerifyResult result = sluice::verify_chunks(tail_deleted, 4);
  CHECK(result.mismatches.empty());
  CHECK(result.rows == 25);
  // Ends from the snapshot itself: the last range holds no rows and is not counted.
  Snapshots same(snapshot, snapshot, snapshot);
  const VerifyResult exact = sluice::verify_chunks(same, 5);
  CHECK(exact.mismatches.empty());
  CHECK(exact.rows == 25);
  CHECK(exact.chunks == 5);
}

TEST_CASE("a difference past the last chunk end is found on either side") {
  Table shadow = rows(1, 25);
  shadow[24] = "stale";
  Snapshots changed(rows(1, 25), shadow, rows(1, 9));
  VerifyResult result = sluice::verify_chunks(changed, 4);
  REQUIRE(result.mismatches.size() == 1);
  CHECK_FALSE(result.mismatches[0].up_to);
  CHECK(id_of(*result.mismatches[0].after) == 9);

  Table missing = rows(1, 25);
  missing.erase(25);
  Snapshots short_shadow(rows(1, 25), missing, rows(1, 25));
  result = sluice::verify_chunks(short_shadow, 5);
  REQUIRE(result.mismatches.size() == 1);
  CHECK(result.mismatches[0].description.find("original has 5 rows, shadow 4") !=
        std::string::npos);

  Snapshots extra(rows(1, 25), rows(1, 30), rows(1, 25));
  result = sluice::verify_chunks(extra, 5);
  REQUIRE(result.mismatches.size() == 1);
  CHECK(result.mismatches[0].description ==
        "keys after 25 up to the end: original has 0 rows, shadow 5");
}

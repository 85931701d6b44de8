#include "src/copier.h"

#include <doctest/doctest.h>

#include <map>

using namespace std::chrono_literals;
using sluice::ChunkSizer;
using sluice::Copier;
using sluice::CopySource;
using sluice::replication::Row;
using sluice::replication::Value;
using sluice::replication::ValueKind;

TEST_CASE("chunk size follows the observed rate toward the target time") {
  ChunkSizer sizer(1000, 500ms);
  sizer.record(1000, 250ms);  // twice as fast as wanted: double
  CHECK(sizer.rows() == 2000);
  sizer.record(2000, 1000ms);  // twice as slow: halve
  CHECK(sizer.rows() == 1000);
  sizer.record(1000, 500ms);
  CHECK(sizer.rows() == 1000);
}

TEST_CASE("one slow or fast chunk moves the size by at most a factor of two") {
  ChunkSizer sizer(1000, 500ms);
  sizer.record(1000, 10s);  // a lock wait
  CHECK(sizer.rows() == 500);
  sizer.record(500, 1ms);
  CHECK(sizer.rows() == 1000);
}

TEST_CASE("chunk size stays within its bounds") {
  ChunkSizer sizer(150, 500ms, 100, 4000);
  for (int i = 0; i < 10; ++i) {
    sizer.record(sizer.rows(), 10s);
  }
  CHECK(sizer.rows() == 100);
  for (int i = 0; i < 20; ++i) {
    sizer.record(sizer.rows(), 1ms);
  }
  CHECK(sizer.rows() == 4000);
}

namespace {

// A table of integer keys 1..n held in memory: the copier's walk over it is what is tested.
struct KeyRange : CopySource {
  int rows;
  std::vector<std::pair<int, int>> copied;  // (after, up_to]
  explicit KeyRange(int n) : rows(n) {}
  static int as_int(const Row& key) { return std::stoi(key.front().text); }
  static Row key(int n) { return {Value{ValueKind::number, std::to_string(n)}}; }
  std::optional<Row> chunk_end(const std::optional<Row>& after, std::uint64_t count) override {
    const int start = after ? as_int(*after) : 0;
    if (start >= rows) {
      return std::nullopt;
    }
    return key(std::min<int>(rows, start + static_cast<int>(count)));
  }
  std::uint64_t copy_range(const std::optional<Row>& after, const Row& up_to) override {
    const int start = after ? as_int(*after) : 0;
    copied.emplace_back(start, as_int(up_to));
    return static_cast<std::uint64_t>(as_int(up_to) - start);
  }
};

}  // namespace

TEST_CASE("the copier covers every key exactly once, in order, and resumes from a watermark") {
  KeyRange table(2500);
  Copier copier(table, ChunkSizer(1000, 500ms, 100, 1000));
  while (copier.copy_next_chunk()) {
  }
  REQUIRE_FALSE(table.copied.empty());
  int expected_start = 0;
  for (const auto& [after, up_to] : table.copied) {
    CHECK(after == expected_start);
    CHECK(up_to > after);
    expected_start = up_to;
  }
  CHECK(expected_start == 2500);
  CHECK(copier.rows_copied() == 2500);

  KeyRange resumed(2500);
  Copier from_watermark(resumed, ChunkSizer(1000, 500ms), KeyRange::key(2000));
  while (from_watermark.copy_next_chunk()) {
  }
  REQUIRE(resumed.copied.size() == 1);
  CHECK(resumed.copied.front() == std::pair<int, int>{2000, 2500});
}

TEST_CASE("a pinned chunk size holds, and widens a key span across gaps to copy that many rows") {
  ChunkSizer sizer(1000, 500ms);
  sizer.pin(300);
  CHECK(sizer.rows() == 300);
  sizer.record(300, 10s);  // the measured time no longer matters
  sizer.record_copied(300, 300);
  CHECK(sizer.rows() == 300);
  sizer.record_copied(300, 0);  // an empty span: twice as wide next time
  CHECK(sizer.rows() == 600);
  sizer.record_copied(600, 0);
  CHECK(sizer.rows() == 1200);
  sizer.record_copied(1200, 1200);  // dense again: back toward 300, by halves
  CHECK(sizer.rows() == 600);
  sizer.record_copied(600, 600);
  CHECK(sizer.rows() == 300);
  sizer.pin(std::nullopt);
  sizer.record(300, 250ms);  // sizing by time again
  CHECK(sizer.rows() == 600);
}

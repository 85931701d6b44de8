// The temporary file a ResyncApplier spills changed keys to (docs/architecture.md §3.1, rule 7):
// every key comes back with its kind and exact bytes, in order, across interleaved writes.
#include "src/key_spill.h"

#include <doctest/doctest.h>

using sluice::KeySpill;
using sluice::replication::Row;
using sluice::replication::Value;
using sluice::replication::ValueKind;

TEST_CASE("spilled keys come back with their kinds and bytes, in order, across writes") {
  KeySpill spill;
  CHECK(spill.read(10).empty());
  const Row binary{Value{ValueKind::binary, std::string("\x00\xff\x10 ", 4)}};
  const Row composite{Value{ValueKind::temporal, "2024-05-01 10:11:12.123456"},
                      Value{ValueKind::number, "-12"}, Value{ValueKind::null, ""}};
  const Row text{Value{ValueKind::text, "\xc3\x89-1 "}};
  const Row empty{Value{ValueKind::text, ""}};
  spill.write({binary, composite});
  spill.write({text});
  CHECK(spill.size() == 3);
  CHECK(spill.read(2) == std::vector<Row>{binary, composite});
  // A write between two reads appends; the next read continues where the last stopped.
  spill.write({empty});
  CHECK(spill.size() == 2);
  CHECK(spill.read(10) == std::vector<Row>{text, empty});
  CHECK(spill.size() == 0);
  CHECK(spill.read(10).empty());
  // Emptied, the file is reused from the start.
  spill.write({text});
  CHECK(spill.read(10) == std::vector<Row>{text});
}

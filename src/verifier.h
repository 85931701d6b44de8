#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replication/change_event.h"
#include "src/chunk_walker.h"

namespace sluice {

// One side's rows in a key range, as verification compares them.
struct ChunkSum {
  std::uint64_t rows = 0;
  std::string checksum;  // the server's order-independent checksum of the rows, as text
  // Source side with --discard-duplicates only: rows missing from the shadow because a new
  // UNIQUE key keeps another row with the same values (not in `rows`), and why the range cannot
  // be explained that way when one missing row duplicates nothing.
  std::uint64_t discarded = 0;
  std::optional<std::string> unexplained;
};

// The two consistent views of the table and its shadow that verification compares, opened by a
// family's RebuildBackend while writes were blocked and the change stream drained to that
// moment. A family supplies the chunk ends and checksum SQL; the engine's verify_chunks() walks
// them. source_sum() and shadow_sum() run on separate sessions, in parallel.
class VerifySnapshots {
 public:
  virtual ~VerifySnapshots() = default;

  // A key about `rows` keys after `after` (from the start when nullopt; the last key when fewer
  // are left), or nullopt when none is left. It need not come from the snapshots: any key is a
  // sound chunk boundary, and the rows past the last end are compared too.
  virtual std::optional<replication::Row> chunk_end(const std::optional<replication::Row>& after,
                                                    std::uint64_t rows) = 0;
  // The rows of the range (after, up_to] (to the end when up_to is nullopt) on each side.
  virtual ChunkSum source_sum(const std::optional<replication::Row>& after,
                              const std::optional<replication::Row>& up_to) = 0;
  virtual ChunkSum shadow_sum(const std::optional<replication::Row>& after,
                              const std::optional<replication::Row>& up_to) = 0;
  // Ends the snapshots and waits for work the family started alongside (PostgreSQL builds the
  // shadow's deferred indexes while verification reads).
  virtual void finish() = 0;
};

// A key range whose rows differ between the table and its shadow.
struct Mismatch {
  std::optional<replication::Row> after;  // keys after this one (from the start when nullopt)
  std::optional<replication::Row> up_to;  // up to and including this one (to the end when nullopt)
  std::string description;                // one line for the report
};

struct VerifyResult {
  std::uint64_t chunks = 0;
  std::uint64_t rows = 0;
  // Rows of the table missing from the shadow because a new UNIQUE key holds another row with
  // the same values (only with RebuildOptions::discard_duplicates).
  std::uint64_t discarded = 0;
  std::vector<Mismatch> mismatches;
};

// Compares the two snapshots chunk by chunk (`chunk_rows` keys each), both sides summed in
// parallel, and then checks that the shadow has no row beyond the table's last key. Calls
// snapshots.finish() at the end.
VerifyResult verify_chunks(VerifySnapshots& snapshots, std::uint64_t chunk_rows);

}  // namespace sluice

#pragma once

#include <optional>
#include <string>

#include "replication/change_event.h"

namespace sluice {

// How far a run has durably come, saved in the phase metadata so a killed run can resume
// (docs/architecture.md §3 rule 5, "checkpoints say applied through"): every row with a key up to
// `watermark` is in the shadow table, and every change before `position` whose key is up to the
// watermark is applied there. Changes to keys past the watermark need no record: the copy reads
// those rows after the resume.
//
// A copy under the change stream's snapshot (SnapshotCopy) has no watermark: until `copied`
// the shadow holds an unfinished copy, which a resumed run starts over; once `copied`, every
// row is in the shadow and every change before `position` is applied there.
struct Checkpoint {
  std::optional<replication::Row> watermark;  // nullopt: the copy has not committed a chunk yet
  replication::Position position;             // a transaction boundary of the change log
  bool copied = false;                        // a SnapshotCopy's copy is complete
  // Saved by a switched run (Migrator::save_revert_point): `position` is where the writes to
  // the new table start in the change log, and every row before it is in the old table.
  bool revert_point = false;
  // With revert_point on PostgreSQL: the reverse slot that holds those writes (pg_revert.h).
  std::string reverse_slot{};

  bool operator==(const Checkpoint&) const = default;
};

// JSON text for the phase metadata, and back. Throws Error(ExitCode::failure) for text that is
// not a checkpoint (a damaged record).
std::string to_json(const Checkpoint& checkpoint);
Checkpoint checkpoint_from_json(const std::string& text);

}  // namespace sluice

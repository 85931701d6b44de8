#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ddl/alter_analysis.h"
#include "ddl/identifier.h"
#include "replication/postgres/slot_manager.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// The PostgreSQL side of `sluice revert` (docs/alter.md, "Revert"; docs/architecture.md §3.2).
// PostgreSQL's change log is read through slots, and a slot only keeps what is written after it
// is created, so a run that may be reverted (--revertible) creates a second slot before its swap:
// the reverse slot, sluice_revert_<shadow oid> (revert_slot_name), with a publication of the
// shadow. After the swap the shadow is the live table under the same oid,
// and the slot keeps every change made to it. The swap reads the WAL position under its locks
// (the revert point): every write to the shadow before it is the migration's own, every write
// after it the application's under the new schema. A revert is then a run whose shadow is the
// old table and whose change stream is that slot read from the revert point, which is exactly
// the stream such a run would have: the engine resumes it after its copy.

// The reverse slot and its publication, created on construction and dropped on destruction
// unless kept. Creating the slot waits for the write transactions open at that moment to end.
// A leftover of a killed run with the same name is dropped first; one in use throws
// Error(ExitCode::preflight_failed). When the table's replica identity is not its primary key,
// the shadow gets REPLICA IDENTITY FULL first (the publication needs one, so that the applier's
// deletes work); the swap then sets the table's own.
class ReverseSlot {
 public:
  ReverseSlot(Connection& main, const replication::postgres::ConnectionParams& params,
              const PgTablePlan& plan);
  ReverseSlot(const ReverseSlot&) = delete;
  ReverseSlot& operator=(const ReverseSlot&) = delete;

  // Keeps both on the server: the swap is done and the run is revertible.
  void keep();
  // The slot's full name (sluice_revert_<oid>), which the run records (Checkpoint::reverse_slot).
  const std::string& name() const { return slot_->name(); }

 private:
  // Destroyed in reverse order: the slot before its publication.
  std::optional<replication::postgres::Publication> publication_;
  std::optional<replication::postgres::ReplicationSlot> slot_;
};

// Drops the slot and publication of this full name if they exist; returns whether the slot
// existed. Throws Error(ExitCode::preflight_failed) while a stream reads it.
bool drop_unused_slot(Connection& main, const replication::postgres::ConnectionParams& params,
                      const std::string& object);

// Drops the reverse slot of `table` (named after its oid) the same way; false when there is none.
bool drop_reverse_slot(Connection& main, const replication::postgres::ConnectionParams& params,
                       const ddl::QualifiedName& table);

// After a swap (not a revert's): the table swapped out, plan.old, may carry the reverse slot of
// the run before this one, which cannot be reverted once this run replaced its table (sluice
// revert refuses it), so it only retains WAL: dropped, or a warning when it cannot be (the swap
// is done either way).
void drop_previous_reverse_slot(Connection& main,
                                const replication::postgres::ConnectionParams& params,
                                const PgTablePlan& plan);

// Whether the reverse slot of this full name still holds the changes a revert needs: it exists
// and its WAL is not lost. It may have confirmed past the revert point: only reverts read it,
// and a revert confirms what it has applied to the old table, which keeps those rows when the
// revert stops; a revert run again starts where the slot stands, as a resumed run does.
bool reverse_slot_retained(Connection& main, const std::string& object);

// What reverting `table` into `old` would lose, one sentence each (see RebuildBackend).
std::vector<std::string> revert_losses(Connection& main, const ddl::QualifiedName& table,
                                       const ddl::QualifiedName& old);

// A revert's change as the plan sees it: the columns `table` has and `shadow` (the adopted old
// table) lacks are dropped, those only the shadow has are added, those whose type differs are
// modified.
ddl::AlterAnalysis revert_analysis(Connection& main, const ddl::QualifiedName& table,
                                   const ddl::QualifiedName& shadow);

// Renames `old` to `shadow` with its user triggers disabled (the applier's writes must not fire
// them; the swap enables them as the table's are). Nothing when `shadow` has it already; throws
// Error(ExitCode::preflight_failed) when `old` is gone or both exist.
void adopt_old_table(Connection& main, const ddl::QualifiedName& table,
                     const ddl::QualifiedName& old, const ddl::QualifiedName& shadow);

// Gives the adopted `shadow` its name `old` back, its triggers enabled as `table`'s are; false
// when there is no shadow or `old` is taken.
bool restore_old_table(Connection& main, const ddl::QualifiedName& table,
                       const ddl::QualifiedName& old, const ddl::QualifiedName& shadow);

}  // namespace sluice::postgres

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/applier.h"
#include "src/dsn.h"
#include "src/postgres/pg_apply.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_rewrite_lock.h"
#include "src/postgres/pg_shadow.h"
#include "src/postgres/pg_snapshot_copy.h"
#include "src/postgres/pg_table_plan.h"
#include "src/rebuild_backend.h"

namespace sluice::postgres {

// The RebuildBackend for PostgreSQL 15: a shadow table made with CREATE TABLE … (LIKE …
// INCLUDING ALL) plus the user's ALTER, with the table's comment, storage parameters, owner,
// grants, row-level security policies and triggers (disabled until the swap), its
// non-constraint indexes built after the bulk copy; a publication and logical replication slot
// (sluice_alter_<table oid>) created with an exported snapshot, under which the whole table is
// copied by ranges of pages with INSERT … SELECT, converting each changed column by its USING
// expression or a cast (a SnapshotCopy); then the slot's changes applied by the server's own
// key equality, unchanged-TOAST values filled in from the shadow or the source; chunk checksums
// (count and bit_xor of hash_record_extended) inside one exported snapshot of both tables; and
// a cut-over in one transaction under ACCESS EXCLUSIVE with a bounded lock_timeout that also
// carries identity and owned sequences, index names, the replica identity and the
// application's publications over to the new table.
//
// Foreign keys to and from the table are re-created on the new table inside the swap (NOT
// VALID) and validated after it; views reading the table are re-created with CREATE OR REPLACE
// VIEW inside the swap. Refused up front (sluice check explains each): self-referencing foreign
// keys, materialized views, views reading a column the ALTER drops or changes, and a rebuild
// of a table whose key sluice cannot match by exact value (pg_key.h).
//
// The work is split by role (docs/architecture.md): plan_rebuild() (pg_plan.h) reads the table
// and writes the shadow's DDL, PgShadow (pg_shadow.h) makes, adopts and cleans up the shadow,
// PgSnapshotCopy (pg_snapshot_copy.h) copies, PgApply (pg_apply.h) applies the change stream,
// PgSnapshots (pg_verify.h) verifies, with pg_copy.h re-copying key ranges, and pg_cut_over.h
// with pg_dependents.h swaps; each builds its SQL with the pure functions of the *_sql.h files
// from one PgTablePlan. This class holds the sessions, reconnects them, and hands each role the
// session it needs.
class PgRebuild : public RebuildBackend, public SnapshotCopy, public ShadowWriter {
 public:
  PgRebuild(const Dsn& dsn, const std::optional<std::string>& password);

  CopyPath copy_path() override { return static_cast<SnapshotCopy*>(this); }

  ddl::QualifiedName resolve_table(const std::string& table) override;
  const RebuildPlan& plan(const RebuildOptions& options) override;
  bool apply_in_place(const RebuildOptions& options) override;
  void create_shadow() override;
  // Nothing: the key's indexes are built when the snapshot is released, the others during
  // verification (PgShadow).
  void complete_shadow() override {}
  bool complete_interrupted_swap(const std::string& table, const std::string& old_suffix) override;
  void attach_shadow() override;
  void drop_shadow() override;
  void reconnect() override;
  replication::Position log_position() override;
  std::unique_ptr<replication::ChangeStream> open_stream(
      const replication::Position& start) override;
  // The Applier of row images over replace_rows below.
  std::unique_ptr<ChangeApplier> make_applier() override;
  std::unique_ptr<VerifySnapshots> open_verify_snapshots(const DrainTo& drain_to) override;
  void recopy(const Mismatch& range) override;
  CutOverResult cut_over(const RebuildOptions& options, const DrainTo& drain_to) override;
  void drop_old_table() override;

  replication::Position take_snapshot() override;
  std::optional<std::uint64_t> copy_chunk(std::uint64_t rows) override;
  void release_snapshot() override;
  void discard_copy() override;
  void replace_rows(const std::vector<replication::Row>& delete_keys,
                    const std::vector<replication::Row>& rows,
                    const std::vector<replication::Row>& fill_from) override;

  std::vector<std::string> cleanup(const std::string& table) override;
  // Revert (pg_revert.h): a run with RebuildOptions::revertible leaves a reverse slot.
  std::vector<std::string> revert_losses(const std::string& table,
                                         const std::string& old_table) override;
  bool log_retained(const Checkpoint& revert_point) override;
  std::vector<std::string> swap_revert_losses() override;
  void adopt_old_table(const std::string& table, const std::string& old_table) override;
  bool restore_old_table(const std::string& table, const std::string& old_table) override;
  bool end_revertibility(const Checkpoint& revert_point) override;

 private:
  std::unique_ptr<Connection> open_session();
  // Starts rewrite_lock_ unless it runs; the run goes on without it when no thread can start.
  void hold_rewrite_lock();
  // Runs `unit` again on new sessions when its connection is lost (options_.reconnect).
  template <typename Unit>
  auto reconnecting(const char* what, Unit unit);

  Dsn dsn_;
  std::optional<std::string> password_;
  std::unique_ptr<Connection> main_;
  std::unique_ptr<Connection> apply_;  // the applier's session, opened with the shadow
  RebuildOptions options_;
  RebuildPlan plan_;
  PgTablePlan table_;  // filled by plan() and the shadow, read by every role
  PgShadow shadow_;
  PgSnapshotCopy copy_;
  PgApply applier_;
  // The run's SHARE UPDATE EXCLUSIVE lock on the table, from its stream's start to its cut-over.
  std::unique_ptr<PgRewriteLock> rewrite_lock_;
};

}  // namespace sluice::postgres

#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "src/checkpoint.h"
#include "src/lease.h"
#include "src/phase_store.h"
#include "src/rebuild_backend.h"

namespace sluice {

// Told where a run stands, between its steps.
class PhaseListener {
 public:
  virtual ~PhaseListener() = default;
  virtual void entered(Phase phase) = 0;
  // How far the run has durably come (see Checkpoint).
  virtual void checkpoint(const Checkpoint& checkpoint) = 0;
  // Why the run must stop now (e.g. its lease was taken over), or nullopt to go on.
  virtual std::optional<std::string> stop_reason() const = 0;
};

// Records one `sluice alter` run in the phase metadata (docs/migrations.md): creates the metadata
// on first use, refuses to start while another run of the same table holds a live lease, keeps this
// run's lease alive, and stamps each phase: expanding (shadow table and stream), backfilling
// (copy), switched (cut-over), contracted (old table dropped), or aborted with the error.
class RunRecorder : public PhaseListener {
 public:
  // `connect` opens the phase metadata (again after a lost connection); `record` holds the
  // table's canonical (quoted, qualified) name and the run's spec (JSON).
  RunRecorder(Lease::StoreFactory connect, MigrationRecord record);

  // Takes over the recorded run `name` to resume it: refuses (Error) unless it is expanding or
  // backfilling, its runner's lease has expired, and it has a checkpoint.
  static std::unique_ptr<RunRecorder> take_over(Lease::StoreFactory connect,
                                                const std::string& name);

  // The run as recorded when this recorder started or took it over.
  const MigrationRecord& record() const { return record_; }

  void entered(Phase phase) override;
  void checkpoint(const Checkpoint& checkpoint) override;
  std::optional<std::string> stop_reason() const override;
  // Records that the run failed with `error` (before the swap: aborted).
  void failed(const std::string& error);
  const std::string& name() const { return name_; }

 private:
  RunRecorder(Lease::StoreFactory connect, std::unique_ptr<PhaseStore> store,
              MigrationRecord record, std::unique_ptr<Lease> lease);
  // Runs `write` on the store, on a new connection after a lost one (with back-off).
  template <typename Write>
  void write_to_store(const char* what, Write write);

  Lease::StoreFactory connect_;
  std::unique_ptr<PhaseStore> store_;
  MigrationRecord record_;
  std::int64_t id_ = 0;
  std::string name_;
  std::unique_ptr<Lease> lease_;
  bool switched_ = false;
};

// The phase-metadata record of one `sluice alter --execute` run of `table` (its canonical quoted
// name; `bare_name` is its name alone): named `name`, or alter-<table>-<UTC time> when empty. Its
// spec (JSON) holds what read_rebuild_spec() needs to resume the run, and `old_table`: the name
// (in the table's schema) the old table is kept under after the swap, which `sluice status`
// shows and `sluice contract` drops (contract_rebuild_run).
MigrationRecord rebuild_record(const std::string& table, const std::string& bare_name,
                               const RebuildOptions& options, const std::string& old_table,
                               std::string name);

// Sets the table, ALTER, flags, old suffix and revert settings a recorded rebuild ran with
// (a run recorded before sluice kept revert points gets the default window). Throws
// Error(ExitCode::failure) when the record lacks them.
void read_rebuild_spec(const MigrationRecord& record, RebuildOptions& options);

// Throws Error(ExitCode::preflight_failed) when a migration of `table` is in progress under a
// held lease (lease_held): what a cleanup must never interfere with. Reads only.
void refuse_while_in_progress(PhaseStore& store, const std::string& table);

// Before a new `sluice alter` of `table`: throws Error(ExitCode::preflight_failed) when an
// earlier run of it stopped (killed, or gave up on its server) while expanding or backfilling
// and nobody holds it, naming `sluice alter --resume NAME` and `sluice cleanup --table
// typed_table` (the table as the user typed it). Reads only.
void refuse_stopped_run(PhaseStore& store, const std::string& table,
                        const std::string& typed_table);

// After `sluice cleanup` removed what stopped runs of `table` left: records them aborted, since
// they can no longer resume.
void abandon_stopped_runs(PhaseStore& store, const std::string& table);

// Releases `record`'s lease when its runner is gone from this host (runner_is_gone), so that it
// can be taken over at once instead of after PhaseStore::kLeaseSeconds.
void release_if_gone(PhaseStore& store, const MigrationRecord& record);

}  // namespace sluice

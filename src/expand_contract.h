#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "src/column_backend.h"
#include "src/dsn.h"
#include "src/migration_control.h"
#include "src/migration_spec.h"
#include "src/phase_plan.h"
#include "src/phase_store.h"
#include "src/server_family.h"

namespace sluice {

struct ExpandContractSettings {
  std::optional<std::string> metadata_schema;    // where the phase metadata lives
  std::chrono::milliseconds lock_timeout{2000};  // longest wait for a table lock per attempt
  int lock_attempts = 5;
  std::chrono::milliseconds batch_time{500};  // target duration of one backfill batch
};

struct ContractOptions {
  bool force = false;             // contract inside the grace period / with old clients
  std::string old_clients;        // overrides the file's old-clients condition
  std::filesystem::path archive;  // where to archive what is dropped; empty: no archive
};

// Rows that differ between the old schema and the new one.
struct VerifyReport {
  std::uint64_t mismatches = 0;
  std::vector<KeyText> samples;  // the first few differing rows' keys
  bool checked = false;          // false when the operation has nothing to check row by row
};

// Drives column-level (expand-contract) migrations through their phases (docs/migrations.md):
// each command checks the phase rules, holds the migration's lease while it works, skips steps
// that are already done (so every command is safe to re-run after a crash) and records the
// phase it reaches. Commands after expand take the migration's name and read its spec from
// the phase metadata. Throws Error with the exit code of docs/exit-codes.md.
class ExpandContract {
 public:
  // `family` is the dsn's server family (server_family()).
  ExpandContract(const ServerFamily& family, const Dsn& dsn, std::optional<std::string> password,
                 ExpandContractSettings settings, MigrationControl& control,
                 const std::atomic<bool>& stop);
  ~ExpandContract();

  // Prints each phase's SQL and what the application must do between phases. Reads only.
  void plan(const MigrationSpec& spec, std::ostream& out);
  void expand(const MigrationSpec& spec);
  // Fills the new column where it is NULL. With `repair`, rewrites instead exactly the rows
  // that fail verification, from the old column (the truth before the switch), walking and
  // throttling the same way; a killed repair continues after its last batch. Never waits for a
  // row the application holds locked: a later pass takes such rows, and when they stay locked
  // through it, throws Error(ExitCode::preflight_failed) with the progress saved, so that a
  // re-run takes only them (docs/safety.md).
  void backfill(const std::string& name, bool repair = false);
  VerifyReport verify(const std::string& name);
  // Verifies, then switches once switch_blocker would let it (unless `force`). Throws
  // Error(ExitCode::preflight_failed) when rows differ or the blocker holds.
  void switch_over(const std::string& name, bool force = false);
  // Why the file's gates hold the switch now (dual-write-clients: a connected client that does
  // not match; switch-after: the soak since expand, or since verification last found differing
  // rows, is not over), or nullopt when they let it go on.
  std::optional<std::string> switch_blocker(const std::string& name);
  // Drops what the old schema left (after blocker checks and the archive). For a switched
  // `sluice alter` run: drops the old table its cut-over kept, unless a later run of the table
  // keeps its own old table under that name (the first was dropped by hand).
  void contract(const std::string& name, const ContractOptions& options);
  // Why contract would refuse now (grace period, old clients), or nullopt when it may go on.
  std::optional<std::string> contract_blocker(const std::string& name,
                                              const ContractOptions& options);
  void abort(const std::string& name);

  // The recorded migration `name`, or nullopt.
  std::optional<MigrationRecord> find(const std::string& name);

 private:
  class Session;

  PhaseStore& store(const std::string& fallback_schema);
  // The facts of the existing column `spec` works on (nullopt for operations that read none).
  // Throws Error(ExitCode::not_found) when it does not exist.
  std::optional<ColumnFacts> subject_of(const MigrationSpec& spec, const ddl::QualifiedName& table);
  std::unique_ptr<Session> open(const std::string& name, const std::vector<Phase>& allowed,
                                const std::string& command);
  void run_steps(Session& session, const std::vector<Step>& steps);
  void run_online_rebuild(Session& session, const Step& step);
  // contract() of a `sluice alter` run (src/expand_contract_alter_run.cpp).
  void contract_alter_run(const MigrationRecord& record, const ContractOptions& options);
  // For each add_column step of `steps` whose column this migration added (recorded in the
  // checkpoint): throws Error(ExitCode::preflight_failed) when the table's column of that name is
  // no longer of the type it had then (another change replaced it).
  void require_added_columns(const Session& session, const std::vector<Step>& steps);
  // The original table an online rebuild kept and contract drops, or nullopt when the
  // migration drops none (no rebuild, or one the server applied in place).
  std::optional<ddl::QualifiedName> old_table(const Session& session) const;
  VerifyReport check_rows(Session& session);
  // Writes the rows of `range` where `rows` holds (backfill_rows()), trying again up to `tries`
  // times, after pauses that double from 50 ms, while the application holds some of them
  // locked; returns what was written and how many rows were still locked at the last try.
  BackfillBatch fill_range(Session& session, const std::string& rows, const KeyRange& range,
                           int tries);
  // The next backfill batch's rows after one of `rows` took `took` (--batch-time, --chunk-size).
  std::uint64_t next_batch_rows(std::uint64_t rows, std::chrono::steady_clock::duration took) const;
  // Walks `table` by key after `after` (from the start when nullopt) in batches, checking the
  // session's lease before each: `size()` gives a batch's rows (and may wait for the throttle),
  // `visit(range)` deals with it; the last range is open-ended (no key bounds it above). The
  // backfill, verification and archives all walk this way.
  void walk_batches(Session& session, const ddl::QualifiedName& table, std::optional<KeyText> after,
                    const std::function<std::uint64_t()>& size,
                    const std::function<void(const KeyRange&)>& visit);
  std::optional<std::string> blocker_of(Session& session, const ContractOptions& options);
  std::optional<std::string> switch_blocker_of(Session& session);
  // Connected clients (sluice's own sessions left out) for which `condition` does not hold.
  std::vector<std::string> clients_not_matching(Session& session, const std::string& condition);
  // Restarts switch-after's soak when `report` found differing rows.
  void note_verification(Session& session, const VerifyReport& report);
  // Archives what contract is about to drop (the dropped column with its keys, or the whole
  // old table), reading the table in key-order batches, and reads the file back to check it.
  void write_archive(Session& session, const std::filesystem::path& path);
  void wait_turn(const std::string& table, std::uint64_t done, std::uint64_t rows);

  Dsn dsn_;
  std::optional<std::string> password_;
  ExpandContractSettings settings_;
  MigrationControl& control_;
  const std::atomic<bool>& stop_;
  const ServerFamily& family_;
  std::unique_ptr<ColumnBackend> backend_;
  std::unique_ptr<PhaseStore> store_;
};

}  // namespace sluice

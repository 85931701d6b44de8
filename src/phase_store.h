#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/dsn.h"

namespace sluice {

// Where a migration stands (docs/migrations.md). A migration moves forward through
// planned → expanding → backfilling → switched → contracted, or ends aborted (given up before
// the switch) or reverted (undone after it).
enum class Phase { planned, expanding, backfilling, switched, contracted, aborted, reverted };

std::string_view phase_name(Phase phase);
// The phase called `name`, or nullopt for an unknown name.
std::optional<Phase> parse_phase(std::string_view name);
// Every phase, in order.
const std::vector<Phase>& all_phases();
// True for the phases in which a runner may be driving the migration (its lease matters).
bool phase_in_progress(Phase phase);

// One migration as recorded in the phase metadata.
struct MigrationRecord {
  std::int64_t id = 0;
  std::string name;
  std::string table;      // the table it changes, as the user named it
  std::string operation;  // "rebuild" for sluice alter; column-level operations by name
  std::string spec;       // the operation's parameters (JSON text)
  Phase phase = Phase::planned;
  std::map<Phase, std::string> entered;  // when each phase was entered (UTC, server clock)
  std::string checkpoint;                // JSON text; empty when none
  std::int64_t grace_seconds = 0;
  std::string owner;         // "host:pid" of the runner holding or last holding the lease
  std::string lease_until;   // UTC, server clock; empty when never leased
  bool lease_alive = false;  // the lease had not expired when the record was read
  std::string error;         // why it was aborted, if it was
};

// The phase metadata of one database (MySQL: table `sluice_migrations` in a chosen schema;
// PostgreSQL: table `migrations` in schema `sluice`), versioned by a one-row table next to it.
// Times come from the server's clock, so runners on different hosts agree on lease expiry.
// One instance holds one connection: use it from one thread.
class PhaseStore {
 public:
  // The layout this build writes; older layouts are upgraded in place by ensure_schema().
  static constexpr int kSchemaVersion = 2;
  // How long a lease lasts without renewal, and how often a runner renews it.
  static constexpr int kLeaseSeconds = 30;
  static constexpr int kRenewSeconds = 5;

  virtual ~PhaseStore() = default;

  // Creates the metadata tables, or upgrades them to kSchemaVersion, under a server-side lock so
  // that concurrent runners do it once. Throws Error(ExitCode::preflight_failed) when they were
  // written by a newer sluice, or when the user may not create them (naming the privilege).
  virtual void ensure_schema() = 0;
  // The stored layout version; 0 when there is no metadata yet. Creates nothing.
  virtual int schema_version() = 0;

  // Every migration, oldest first; empty when there is no metadata yet. Creates nothing, but
  // upgrades an older layout in place.
  virtual std::vector<MigrationRecord> list() = 0;
  virtual std::optional<MigrationRecord> find(const std::string& name) = 0;

  // Records a new migration in phase planned and gives `owner` its lease, atomically with a
  // check that no other migration of the same table is in progress under a live lease (then it
  // throws Error(ExitCode::preflight_failed) naming the owner). One in progress whose lease
  // expired (its runner died) is marked aborted first. Throws Error(ExitCode::usage) when the
  // name is taken.
  virtual std::int64_t start(const MigrationRecord& record, const std::string& owner) = 0;

  // Moves migration `id` to `phase`, stamping the time; `error` is recorded with aborted.
  virtual void set_phase(std::int64_t id, Phase phase, const std::string& error = "") = 0;
  // Gives `owner` the lease on `id` if nobody holds it (none, or expired); false otherwise.
  virtual bool take_over(std::int64_t id, const std::string& owner) = 0;
  // Extends `owner`'s lease on `id`; false when the lease is no longer `owner`'s.
  virtual bool renew_lease(std::int64_t id, const std::string& owner) = 0;
  // Ends `owner`'s lease on `id` (the record keeps the owner's name).
  virtual void release_lease(std::int64_t id, const std::string& owner) = 0;
  virtual void save_checkpoint(std::int64_t id, const std::string& checkpoint) = 0;
  // Seconds since migration `id` entered `phase`, by the server's clock; nullopt when it never
  // did.
  virtual std::optional<std::int64_t> seconds_since(std::int64_t id, Phase phase) = 0;
  // The server's id of this store's session (MySQL: CONNECTION_ID(); PostgreSQL: the backend
  // pid), so that checks for other clients can leave sluice's own sessions out.
  virtual std::string session_id() = 0;
};

// The columns every PhaseStore selects, in this order, for record_from_row: id, name,
// table_name, operation, spec, phase, checkpoint, grace_seconds, owner, lease_until (text, UTC),
// lease alive (a boolean as the server prints it), error, then one `<phase>_at` per phase in
// all_phases() order.
MigrationRecord record_from_row(const std::vector<std::optional<std::string>>& row);

// Before `owner` starts `record`: throws Error(ExitCode::preflight_failed) naming the runner when
// one of `in_progress` (the table's migrations in progress) holds its lease (lease_held), and
// marks the `sluice alter` runs whose lease expired or whose runner is gone as aborted in
// `store`. Migrations
// of a migration file wait between commands without a lease and are left alone.
void claim_table(PhaseStore& store, const MigrationRecord& record, const std::string& owner,
                 const std::vector<MigrationRecord>& in_progress);

// Whether a stored layout `version` needs upgrading to kSchemaVersion. Throws
// Error(ExitCode::preflight_failed) for a newer layout; `where` names its place for the message.
bool layout_needs_upgrade(int version, const std::string& where);

// "host:pid" of this process: how a lease names its owner.
std::string this_runner();

// Whether `owner` (as this_runner() names it) is a process of this host that no longer runs,
// such as a runner killed with SIGKILL: its lease need not be waited out. False for a runner of
// another host (this host cannot see it), a running pid, and a malformed name.
bool runner_is_gone(const std::string& owner);

// Whether `record`'s lease keeps other runners away: it has not expired and its runner is not
// gone from this host.
bool lease_held(const MigrationRecord& record);

}  // namespace sluice

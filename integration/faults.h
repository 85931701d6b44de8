#pragma once

#include <chrono>
#include <random>
#include <string>

#include "src/dsn.h"

namespace sluice::test {

// Helpers for the fault-injection tests: sluice runs as a user of its own, so that its server
// sessions can be found and killed without touching the test's or the writer's.
struct FaultUser {
  std::string dsn;  // `dsn` with the fault user instead of the superuser
  std::string password;
};

// Creates (once) a user with every privilege sluice needs on the server behind `admin_dsn` and
// returns its DSN. PostgreSQL's test server requires a password from users other than postgres:
// the test passes it to sluice through PGPASSWORD.
FaultUser fault_user(ServerKind kind, const std::string& admin_dsn);

// Ends every server session of the fault user (MySQL KILL, PostgreSQL pg_terminate_backend),
// the binlog dump / walsender included; returns how many it ended.
int kill_fault_sessions(ServerKind kind, const std::string& admin_dsn);

// Waits until the run `name` has saved a checkpoint whose JSON contains `part`.
bool wait_for_saved(const std::string& admin_dsn, const std::string& name, const std::string& part,
                    std::chrono::milliseconds limit = std::chrono::seconds(60));

// Waits until the run `name` has saved a checkpoint past its first chunk (a key-range copy).
bool wait_for_checkpoint(const std::string& admin_dsn, const std::string& name,
                         std::chrono::milliseconds limit = std::chrono::seconds(60));

// What a snapshot copy's checkpoints contain (wait_for_saved): any checkpoint is saved once the
// copy has started; "copied" once every row is copied.
inline const std::string kCopyStarted = "\"position\"";
inline const std::string kCopyDone = "\"copied\":true";

// Makes the lease of run `name` expire now, as it does 30 s after its runner died.
void expire_lease(ServerKind kind, const std::string& admin_dsn, const std::string& name);

// Deletes the record of run `name` (left by an earlier run of the same test).
void forget_run(ServerKind kind, const std::string& admin_dsn, const std::string& name);

// The recorded phase of run `name` ("" when there is no record).
std::string run_phase(const std::string& admin_dsn, const std::string& name);

}  // namespace sluice::test

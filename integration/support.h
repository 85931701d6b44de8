#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "src/dsn.h"
#include "src/mysql/mysql_connection.h"
#include "src/phase_store.h"
#include "src/postgres/pg_connection.h"

namespace sluice::test {

// The DSN of the throwaway server `scripts/dbs start` exported (SLUICE_TEST_MYSQL_DSN /
// SLUICE_TEST_PG_DSN). Fails the test with instructions when it is not set.
std::string server_dsn(ServerKind kind);

// Whether `table` exists in `db`'s current database, and the COLUMN_TYPE of one of its columns
// ("" when there is no such column).
bool mysql_table_exists(mysql::Connection& db, const std::string& table);
std::string mysql_column_type(mysql::Connection& db, const std::string& table,
                              const std::string& column);

// The same for a table of PostgreSQL's `public` schema: format_type of the column.
bool pg_table_exists(postgres::Connection& db, const std::string& table);
std::string pg_column_type(postgres::Connection& db, const std::string& table,
                           const std::string& column);

// A superuser session on the test server, for arranging tables and reading results.
std::unique_ptr<mysql::Connection> mysql_admin();
std::unique_ptr<postgres::Connection> postgres_admin();

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Checks that `run` is a refusal: the exit code, exactly one line on stderr
// (`sluice: error: …`), naming `reason`.
void check_refusal(const RunResult& run, int exit_code, const std::string& reason);

// Runs the built `sluice` binary with `args` (no shell involved) and extra environment
// variables, waiting for it to exit.
RunResult run_sluice(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {});

// A server of its own, started by scripts/dbs with extra settings in a private state directory,
// stopped on destruction. Used for settings that cannot change at run time, and for a primary
// with a replica (scripts/dbs start --replica), which the shared servers do not have.
class PrivateServer {
 public:
  // `kind` selects mysql or postgres; `settings` go to SLUICE_DBS_MYSQL_ARGS (space separated
  // mariadbd arguments) or SLUICE_DBS_PG_SETTINGS ("key = value" lines separated by ';').
  // `with_replica` adds a MariaDB GTID replica or a PostgreSQL streaming standby
  // (application_name dbs_standby), replicating before the constructor returns.
  PrivateServer(ServerKind kind, const std::string& settings, bool with_replica = false);
  ~PrivateServer();
  PrivateServer(const PrivateServer&) = delete;
  PrivateServer& operator=(const PrivateServer&) = delete;

  const std::string& dsn() const { return dsn_; }
  // The replica's DSN (same superuser, same database); empty without `with_replica`.
  const std::string& replica_dsn() const { return replica_dsn_; }

  // Stops the server, waits `down`, and starts it again on the same port and data directory
  // (PostgreSQL: fast shutdown, which terminates every session).
  void restart(std::chrono::seconds down = std::chrono::seconds(0));

 private:
  ServerKind kind_;
  std::string state_dir_;
  std::string dsn_;
  std::string replica_dsn_;
};

// Polls `done` every 50 ms until it returns true (then true) or `limit` has passed (false).
template <typename Done>
bool eventually(Done done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// A directory of its own under /tmp for flag files, sockets and hooks, removed with everything
// in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void touch(const std::string& name) const;
  void remove(const std::string& name) const;

 private:
  std::string path_;
};

// The built `sluice` running in the background (no shell involved), its stdout (and with
// `with_stderr` its log lines too) collected. Killed on destruction if still running.
class SluiceProcess {
 public:
  explicit SluiceProcess(const std::vector<std::string>& args, bool with_stderr = false);
  ~SluiceProcess();
  SluiceProcess(const SluiceProcess&) = delete;
  SluiceProcess& operator=(const SluiceProcess&) = delete;

  int pid() const { return pid_; }
  // Reads output until it contains `text` or `limit` passes; true when it appeared.
  bool wait_for(const std::string& text, std::chrono::milliseconds limit);
  // Reads output until it holds `lines` lines or `limit` passes; returns all output so far.
  std::string read_lines(std::size_t lines, std::chrono::milliseconds limit);
  // Sends `signal`, waits for the exit and returns the exit code (128 + signal when killed).
  int stop(int signal);
  // Collects output until the process exits by itself and returns its exit code, or -1 when it
  // is still running after `limit`.
  int wait(std::chrono::milliseconds limit);
  const std::string& out() const { return out_; }

 private:
  template <typename Done>
  void read_until(Done done, std::chrono::milliseconds limit);

  int pid_ = -1;
  int fd_ = -1;
  std::string out_;
};

// Runs a shell command, returning its exit code; stdout and stderr are captured into `output`.
int shell(const std::string& command, std::string* output = nullptr);

// The phase metadata of the server behind `dsn`, as sluice opens it (`schema`: see
// ServerFamily::phase_store).
std::unique_ptr<PhaseStore> phase_store(const Dsn& dsn, const std::optional<std::string>& schema);

}  // namespace sluice::test

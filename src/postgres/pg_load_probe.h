#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/load_probe.h"
#include "src/postgres/pg_connection.h"

namespace sluice::postgres {

// PostgreSQL has no status counters like MySQL's Threads_running; the probe offers these metrics
// instead, counted over client backends in pg_stat_activity (sluice's own probe excluded):
//   active_backends      running a statement now (the closest to Threads_running)
//   backends             connected
//   idle_in_transaction  holding a transaction open between statements
//   lock_waiting         waiting for a lock
// Replica lag is the primary's own view: pg_stat_replication.replay_lag of each standby, by
// application_name (all standbys when none are listed). A standby with no recent activity has
// no replay_lag (it is caught up: lag 0); a listed standby that is not connected is not
// replicating. The session is reopened after a failure.
class PgLoadProbe : public LoadProbe {
 public:
  PgLoadProbe(const Dsn& dsn, const std::optional<std::string>& password,
              std::vector<std::string> standbys);

  std::map<std::string, double> load(const std::vector<std::string>& names) override;
  std::vector<ReplicaLag> replica_lag() override;
  double throttle_query(const std::string& sql) override;

 private:
  Connection& session();

  Dsn dsn_;
  std::optional<std::string> password_;
  std::vector<std::string> standbys_;
  std::unique_ptr<Connection> session_;
};

}  // namespace sluice::postgres

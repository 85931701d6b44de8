#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/dsn.h"

namespace sluice {

// How far one replica is behind. A replica throttles the copy when its lag exceeds
// --max-lag-millis, and regardless of its lag when `problem` is set or the lag is unknown:
// a replica sluice cannot show to be keeping up is treated as lagging (fails closed).
struct ReplicaLag {
  std::string replica;
  // The measured lag; nullopt when it cannot be measured (unreachable, not replicating).
  std::optional<std::chrono::milliseconds> lag;
  // Why the replica throttles whatever its lag, completing "replica <name> …" (e.g. "is not
  // replicating (Slave_SQL_Running: No)", "cannot be reached: …"); empty when it replicates.
  std::string problem;
};

// The server-side readings the throttler asks for about once a second, on a session of its
// own so a probe never waits behind a chunk. One implementation per server family:
// mysql::MysqlLoadProbe (SHOW GLOBAL STATUS, replicas' SHOW SLAVE STATUS), postgres::PgLoadProbe
// (pg_stat_activity, pg_stat_replication).
class LoadProbe {
 public:
  virtual ~LoadProbe() = default;

  // The current value of each named metric. Throws Error(ExitCode::usage) for a name the
  // server does not report, and Error for a failed query.
  virtual std::map<std::string, double> load(const std::vector<std::string>& names) = 0;

  // The lag of each replica that throttles the copy.
  virtual std::vector<ReplicaLag> replica_lag() = 0;

  // Runs the user's --throttle-query and returns its first column as a number (NULL or no row
  // is 0). Throws Error when the query fails or returns something that is not a number.
  virtual double throttle_query(const std::string& sql) = 0;
};

}  // namespace sluice

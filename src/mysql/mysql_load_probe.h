#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/load_probe.h"
#include "src/mysql/mysql_connection.h"
#include "src/mysql/mysql_replica_lag.h"

namespace sluice::mysql {

// Load from SHOW GLOBAL STATUS (any status variable, e.g. Threads_running), on sessions of its
// own; a session that fails is reopened on the next probe.
//
// Replica lag, for each listed replica: the larger of its Seconds_Behind_Master (whole seconds)
// and, on MariaDB, the lag GtidLagClock measures from the primary's @@gtid_binlog_pos and the
// replica's @@gtid_slave_pos, which still reads when the SQL thread is stopped. A replica
// whose replication threads are not both running, which records an error, or which cannot be
// reached or read, throttles whatever its lag, with the reason in ReplicaLag::problem.
class MysqlLoadProbe : public LoadProbe {
 public:
  MysqlLoadProbe(const Dsn& dsn, const std::optional<std::string>& password,
                 const std::vector<std::string>& replicas);

  std::map<std::string, double> load(const std::vector<std::string>& names) override;
  std::vector<ReplicaLag> replica_lag() override;
  double throttle_query(const std::string& sql) override;

 private:
  Connection& primary();

  Dsn dsn_;
  std::optional<std::string> password_;
  std::unique_ptr<Connection> primary_;
  struct Replica {
    Dsn dsn;
    std::unique_ptr<Connection> connection;
  };
  std::vector<Replica> replicas_;
  GtidLagClock gtid_clock_;
};

}  // namespace sluice::mysql

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/load_probe.h"
#include "src/mysql/mysql_connection.h"

namespace sluice::mysql {

// Load from SHOW GLOBAL STATUS (any status variable, e.g. Threads_running), replica lag from
// each listed replica's Seconds_Behind_Master (whole seconds, as the server reports it), on
// sessions of its own. A session that fails is reopened on the next probe.
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
};

}  // namespace sluice::mysql

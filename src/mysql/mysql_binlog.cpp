#include "src/mysql/mysql_binlog.h"

namespace sluice::mysql {

replication::mysql::BinlogConnectionOptions binlog_connection(
    const Dsn& dsn, const std::optional<std::string>& password) {
  replication::mysql::BinlogConnectionOptions options;
  options.host = dsn.host;
  options.port = dsn.port;
  options.socket = dsn.socket;
  options.user = dsn.user;
  options.password = password;
  return options;
}

}  // namespace sluice::mysql

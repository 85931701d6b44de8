#pragma once

#include <optional>
#include <string>

#include "replication/mysql/binlog_stream.h"
#include "src/dsn.h"

namespace sluice::mysql {

// How the binlog stream reaches the server the DSN names, as the same user.
replication::mysql::BinlogConnectionOptions binlog_connection(
    const Dsn& dsn, const std::optional<std::string>& password);

}  // namespace sluice::mysql

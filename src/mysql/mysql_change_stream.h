#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "replication/change_stream.h"
#include "src/dsn.h"

namespace sluice::mysql {

// A binlog stream of one table from the current end of the binlog, as replica `server_id` (0:
// derive a unique one); see ServerFamily::change_stream for what it throws. Checks first that the
// server logs full row images the decoder can read.
std::unique_ptr<replication::ChangeStream> open_mysql_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
    std::uint32_t server_id);

}  // namespace sluice::mysql

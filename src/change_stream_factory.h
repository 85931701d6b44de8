#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "replication/change_stream.h"
#include "src/dsn.h"

namespace sluice {

// Opens a change stream of one table (`table_text` as the user typed it: `name` or
// `schema.name`, the schema defaulting to the DSN's database), starting at the current end of
// the server's change log, so it delivers every change committed from now on.
// MySQL/MariaDB: a binlog dump as replica `server_id` (0: derive a unique one).
// PostgreSQL: a publication and logical slot of its own (`table_text` defaults to schema public),
// both dropped when the stream is destroyed.
// Throws Error: ExitCode::usage for a malformed name or an unsupported server kind,
// ExitCode::connection when the server cannot be reached, ExitCode::not_found for an unknown
// table, ExitCode::preflight_failed when binary logging is off, ExitCode::stream when the
// server refuses the replication connection.
std::unique_ptr<replication::ChangeStream> open_change_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table_text,
    std::uint32_t server_id = 0);

}  // namespace sluice

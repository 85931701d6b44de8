#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ddl/identifier.h"
#include "replication/change_stream.h"
#include "src/dsn.h"

namespace sluice::postgres {

// Opens a change stream of `table` for as long as the returned object lives: creates a
// publication and a logical replication slot named sluice_<name> (by default
// sluice_stream_<pid>_<time>; see sluice_object_name for the allowed names) and drops both
// when the stream is destroyed, so a stopped `sluice stream` leaves nothing on the server (a
// process killed with SIGKILL does leave them; see docs/stream-postgres.md). The stream starts
// at the slot's consistent point: it carries the changes committed after this call.
//
// Throws Error(ExitCode::connection) when the server cannot be reached,
// Error(ExitCode::not_found) when the table does not exist, Error(ExitCode::preflight_failed)
// when it has no replica identity (publishing it would break the application's UPDATEs and
// DELETEs) or the publication or slot cannot be created (ownership, REPLICATION privilege, no
// free slot). The stream's own failures reach the caller of next() as Error(ExitCode::stream).
// `reconnect_timeout` bounds how long the stream tries to get a lost replication connection
// back; then next() throws Error(ExitCode::connection).
std::unique_ptr<replication::ChangeStream> open_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const ddl::QualifiedName& table,
    const std::string& name = {},
    std::chrono::milliseconds reconnect_timeout = std::chrono::seconds(60));

// Reads on from the slot and publication sluice_<name> that an earlier run on `table` left (a
// resumed migration), delivering the transactions committed after `start_lsn` (the earlier run's
// checkpoint); drops both when the stream is destroyed unless keep_server_objects() was called.
// Throws Error(ExitCode::stream) when the slot is gone or can no longer be read (invalidated by
// max_slot_wal_keep_size): the changes since the checkpoint are lost to sluice.
std::unique_ptr<replication::ChangeStream> resume_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
    const std::string& name, std::uint64_t start_lsn, std::chrono::milliseconds reconnect_timeout);

}  // namespace sluice::postgres

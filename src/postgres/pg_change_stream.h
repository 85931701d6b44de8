#pragma once

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
std::unique_ptr<replication::ChangeStream> open_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const ddl::QualifiedName& table,
    const std::string& name = {});

}  // namespace sluice::postgres

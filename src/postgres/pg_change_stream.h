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

// Opens a change stream of `table` for as long as the returned object lives (`sluice stream`):
// creates a publication and a logical replication slot named sluice_stream_<pid>_<time> and
// drops both when the stream is destroyed, so a stopped `sluice stream` leaves nothing on the
// server (a process killed with SIGKILL does leave them; see docs/stream-postgres.md). The stream
// starts at the slot's consistent point: it carries the changes committed after this call.
//
// Throws Error(ExitCode::connection) when the server cannot be reached,
// Error(ExitCode::not_found) when the table does not exist, Error(ExitCode::preflight_failed)
// when it has no replica identity (publishing it would break the application's UPDATEs and
// DELETEs) or the publication or slot cannot be created (ownership, REPLICATION privilege, no
// free slot). The stream's own failures reach the caller of next() as Error(ExitCode::stream).
// The stream tries for a minute to get a lost replication connection back; then next() throws
// Error(ExitCode::connection).
std::unique_ptr<replication::ChangeStream> open_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const ddl::QualifiedName& table);

// The least memory the walsender of a migration's stream may use to decode one transaction
// before it spills the transaction to disk and reads it back (logical_decoding_work_mem, 64 MB
// by default). Each chunk of the copy is one transaction into the shadow table, which the
// walsender decodes whole only to filter it out (the publication holds the table alone); at the
// default, chunks of more than about 200,000 narrow rows spill (docs/alter.md step 4).
inline constexpr std::uint64_t kMigrationDecodingMemoryKb = 256 * 1024;

// Reads from the slot and publication sluice_<name> a migration of `table` made (its copy's
// snapshot, or a killed run's), delivering the transactions committed after `start_lsn` (a
// checkpoint's; 0 for everything the slot kept), decoding with kMigrationDecodingMemoryKb;
// drops both when the stream is destroyed unless
// keep_server_objects() was called. Throws Error(ExitCode::stream) when the slot is gone or can
// no longer be read (invalidated by max_slot_wal_keep_size): its changes are lost to sluice.
std::unique_ptr<replication::ChangeStream> adopt_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
    const std::string& name, std::uint64_t start_lsn, std::chrono::milliseconds reconnect_timeout);

}  // namespace sluice::postgres

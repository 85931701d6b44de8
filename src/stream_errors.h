#pragma once

#include <string>

#include "replication/stream_error.h"

namespace sluice {

// The one translation of change-stream failures into sluice's errors (docs/exit-codes.md): a
// stream that lost its server and could not get it back (StreamDisconnected) is
// Error(ExitCode::connection), because the log is still there and a later run resumes from its
// checkpoint; any other StreamError (binlog purged, slot lost, replication refused) is
// Error(ExitCode::stream). `context` (may be empty) precedes the stream's own message.
[[noreturn]] void throw_stream_failure(const replication::StreamError& error,
                                       const std::string& context = "");

}  // namespace sluice

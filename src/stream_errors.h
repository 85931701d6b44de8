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

// Returns what `read` returns, a StreamError it throws translated by throw_stream_failure: how
// a family's ChangeStream passes on its client's failures.
template <typename Read>
auto translating_stream_errors(Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const replication::StreamError& error) {
    throw_stream_failure(error);
  }
}

}  // namespace sluice

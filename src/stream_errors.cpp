#include "src/stream_errors.h"

#include "src/error.h"

namespace sluice {

void throw_stream_failure(const replication::StreamError& error, const std::string& context) {
  const std::string message = context + error.what();
  if (dynamic_cast<const replication::StreamDisconnected*>(&error)) {
    throw Error(ExitCode::connection, message);
  }
  throw Error(ExitCode::stream, message);
}

}  // namespace sluice

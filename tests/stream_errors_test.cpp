#include "src/stream_errors.h"

#include <doctest/doctest.h>

#include "src/error.h"

namespace {

sluice::ExitCode code_of(const sluice::replication::StreamError& error) {
  try {
    sluice::throw_stream_failure(error, "while testing: ");
  } catch (const sluice::Error& translated) {
    CHECK(std::string(translated.what()).rfind("while testing: ", 0) == 0);
    return translated.code();
  }
  return sluice::ExitCode::ok;
}

}  // namespace

TEST_CASE("a stream that lost its server is a connection error; any other stream failure is not") {
  CHECK(code_of(sluice::replication::StreamDisconnected("server gone")) ==
        sluice::ExitCode::connection);
  CHECK(code_of(sluice::replication::StreamError("binlog purged")) == sluice::ExitCode::stream);
}

#pragma once

#include <stdexcept>
#include <string>

namespace sluice {

// Process exit codes. Scripts act on them, so they never change meaning; docs/exit-codes.md
// lists them for users.
enum class ExitCode : int {
  ok = 0,
  failure = 1,           // an unexpected failure (a bug, or a server error sluice did not foresee)
  usage = 2,             // bad command line: unknown option, malformed DSN or table name
  connection = 3,        // cannot connect or authenticate, unknown database
  not_found = 4,         // the named table (or migration) does not exist
  preflight_failed = 5,  // the server or table does not meet a precondition for an online change
  stream = 6,            // the change stream cannot go on (binlog purged, slot lost)
  aborted = 7,           // aborted on request (panic file or command) or by --critical-load
  interrupted = 130,     // stopped by SIGINT/SIGTERM after cleaning up
};

// The one exception type the engine lets reach the command line. `what()` is a single sentence
// that says what is wrong and how to fix it; it never contains a password.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace sluice

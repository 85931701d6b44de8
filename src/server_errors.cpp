#include "src/server_errors.h"

namespace sluice {

Error explain_server_error(const ServerError& error) {
  const std::string& said = error.server_message();
  switch (error.kind()) {
    case ServerErrorKind::bad_value:
      return Error(
          ExitCode::preflight_failed,
          "existing rows hold values the new definition cannot (" + said +
              "); change the definition (a wider type, another USING expression) or fix those rows "
              "first, then run again");
    case ServerErrorKind::constraint_violation:
      return Error(ExitCode::preflight_failed,
                   "existing rows violate the new definition (" + said +
                       "); fix those rows first or change the constraint, then run again");
    case ServerErrorKind::undefined_object:
      return Error(ExitCode::not_found,
                   "the server does not know a name it was given (" + said +
                       "); check the names in the ALTER or the migration file");
    case ServerErrorKind::access_denied:
      return Error(ExitCode::preflight_failed,
                   "sluice's user lacks a privilege (" + said +
                       "); grant it, or run as a user that has it (sluice check lists what a "
                       "migration needs)");
    case ServerErrorKind::invalid_statement:
      return Error(ExitCode::usage, "the server refused the statement (" + said +
                                        "); fix the ALTER or the migration file");
    case ServerErrorKind::lock_timeout:
    case ServerErrorKind::deadlock:
    case ServerErrorKind::unique_violation:
    case ServerErrorKind::other:
      break;
  }
  return Error(ExitCode::failure, error.what());
}

Error user_error(const Error& error) {
  if (const auto* refused = dynamic_cast<const ServerError*>(&error)) {
    return explain_server_error(*refused);
  }
  return error;
}

}  // namespace sluice

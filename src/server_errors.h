#pragma once

#include "src/error.h"
#include "src/session.h"

namespace sluice {

// The one sentence and the exit code (docs/exit-codes.md) a user gets for a statement the
// server refused, by its class (ServerErrorKind, which each family assigns from its codes):
//   bad_value, constraint_violation  existing rows do not fit the new definition  -> 5
//   undefined_object                 a name in the ALTER or migration file        -> 4
//   access_denied                    a missing privilege                           -> 5
//   invalid_statement                the server rejects the statement              -> 2
// Every other kind is unforeseen: exit 1 with the server's message and the statement, as a bug
// report needs them. Called where errors leave a command, so every path that runs SQL is covered
// without a translation at each call site.
Error explain_server_error(const ServerError& error);

// `error` as the user sees it: explained when it is a ServerError, otherwise itself.
Error user_error(const Error& error);

}  // namespace sluice

#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

#include "src/dsn.h"
#include "src/password.h"

namespace sluice::cli {

// The options every command that talks to a server shares: --dsn, --password-file,
// --ask-password.
struct ConnectionOptions {
  std::string dsn_text;
  PasswordOptions password;

  void add_to(boost::program_options::options_description& description);

  // Parses the DSN and resolves the password; throws Error(ExitCode::usage) on bad input.
  Dsn dsn() const;
  std::optional<std::string> resolve_password(const Dsn& dsn) const;
};

}  // namespace sluice::cli

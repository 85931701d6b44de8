#include "cli/connection_options.h"

#include "src/error.h"

namespace sluice::cli {

namespace po = boost::program_options;

void ConnectionOptions::add_to(po::options_description& description) {
  description.add_options()(
      "dsn", po::value(&dsn_text)->required(),
      "server to connect to: mysql://user@host:port/database, postgres://user@host:port/db "
      "or a PostgreSQL key=value string (never with a password)")(
      "password-file", po::value(&password.password_file),
      "read the password from the first line of this file")(
      "ask-password", po::bool_switch(&password.ask),
      "prompt for the password on the terminal (otherwise MYSQL_PWD / PGPASSWORD, or "
      "~/.pgpass)");
}

Dsn ConnectionOptions::dsn() const {
  return parse_dsn(dsn_text);
}

std::optional<std::string> ConnectionOptions::resolve_password(const Dsn& dsn) const {
  return sluice::resolve_password(dsn.kind, password);
}

}  // namespace sluice::cli

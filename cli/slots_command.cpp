#include <iostream>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "src/error.h"
#include "src/postgres/pg_slots.h"

namespace sluice::cli {

namespace po = boost::program_options;

int run_slots(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::vector<std::string> drop;
  po::options_description description("sluice slots options");
  connection.add_to(description);
  description.add_options()("drop", po::value(&drop)->composing(),
                            "drop this sluice slot and its publication (repeatable)");
  if (!parse_options(args, description, "sluice slots --dsn postgres://… [--drop NAME]")) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  if (dsn.kind != ServerKind::postgres) {
    throw Error(ExitCode::usage,
                "sluice slots lists PostgreSQL replication slots; MySQL keeps no replica state "
                "on the server");
  }
  const std::optional<std::string> password = connection.resolve_password(dsn);
  for (const std::string& name : drop) {
    postgres::drop_slot_and_publication(dsn, password, name);
    std::cout << "dropped " << name << "\n";
  }
  if (!drop.empty()) {
    return 0;
  }
  const auto slots = postgres::list_slots(dsn, password);
  const auto publications = postgres::list_publications(dsn, password);
  if (slots.empty() && publications.empty()) {
    std::cout << "no sluice slots or publications\n";
  }
  for (const auto& slot : slots) {
    std::cout << "slot " << slot.name << " database " << slot.database
              << (slot.active ? " active" : " inactive") << " wal " << slot.wal_status
              << " retains " << slot.retained_bytes / (1024 * 1024) << " MB"
              << (slot.name.rfind("sluice_revert_", 0) == 0
                      ? " (reverse slot: sluice revert of the table's last run reads it; dropping "
                        "it ends that run's revertibility)"
                      : "")
              << "\n";
  }
  for (const std::string& publication : publications) {
    std::cout << "publication " << publication << "\n";
  }
  return 0;
}

}  // namespace sluice::cli

#include "src/postgres/pg_slots.h"

#include <algorithm>

#include "replication/stream_error.h"
#include "src/error.h"
#include "src/postgres/pg_connection.h"

namespace sluice::postgres {

namespace pg = replication::postgres;

namespace {

pg::ConnectionParams params_of(const Dsn& dsn, const std::optional<std::string>& password) {
  return pg::ConnectionParams{dsn.pg_conninfo, password};
}

}  // namespace

std::vector<pg::SlotStatus> list_slots(const Dsn& dsn, const std::optional<std::string>& password) {
  try {
    return pg::list_sluice_slots(params_of(dsn, password));
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::connection, error.what());
  }
}

std::optional<pg::SlotStatus> find_slot(const Dsn& dsn, const std::optional<std::string>& password,
                                        const std::string& name) {
  for (pg::SlotStatus& slot : list_slots(dsn, password)) {
    if (slot.name == name) {
      return slot;
    }
  }
  return std::nullopt;
}

std::vector<std::string> list_publications(const Dsn& dsn,
                                           const std::optional<std::string>& password) {
  try {
    return pg::list_sluice_publications(params_of(dsn, password));
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::connection, error.what());
  }
}

void drop_slot_and_publication(const Dsn& dsn, const std::optional<std::string>& password,
                               const std::string& name) {
  if (name.rfind("sluice_", 0) != 0) {
    throw Error(ExitCode::usage, "'" + name +
                                     "' is not one of sluice's slots (their names start with "
                                     "sluice_); sluice never drops other slots");
  }
  const pg::ConnectionParams params = params_of(dsn, password);
  const std::vector<pg::SlotStatus> slots = list_slots(dsn, password);
  const std::vector<std::string> publications = list_publications(dsn, password);
  const auto slot = std::find_if(slots.begin(), slots.end(),
                                 [&](const pg::SlotStatus& s) { return s.name == name; });
  const bool has_publication =
      std::find(publications.begin(), publications.end(), name) != publications.end();
  if (slot == slots.end() && !has_publication) {
    throw Error(ExitCode::not_found, "no sluice slot or publication named " + name +
                                         "; sluice slots --dsn … lists them");
  }
  if (slot != slots.end() && slot->active) {
    throw Error(ExitCode::failure,
                "slot " + name + " is in use by a running stream; stop that sluice first");
  }
  try {
    if (slot != slots.end()) {
      pg::drop_slot(params, name);
    }
    if (has_publication) {
      pg::drop_publication(params, name);
    }
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::failure, error.what());
  }
}

}  // namespace sluice::postgres

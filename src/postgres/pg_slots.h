#pragma once

#include <optional>
#include <string>
#include <vector>

#include "replication/postgres/slot_manager.h"
#include "src/dsn.h"

namespace sluice::postgres {

// sluice's replication slots on the server, with the WAL each retains (warns past 1 GB).
std::vector<replication::postgres::SlotStatus> list_slots(
    const Dsn& dsn, const std::optional<std::string>& password);

// The sluice slot of this full name (a run's reverse slot, as its checkpoint records it), when
// it exists.
std::optional<replication::postgres::SlotStatus> find_slot(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& name);

// sluice's publications in the DSN's database.
std::vector<std::string> list_publications(const Dsn& dsn,
                                           const std::optional<std::string>& password);

// Drops a sluice slot and the publication of the same name. Throws Error(ExitCode::usage) for a
// name that is not sluice's, Error(ExitCode::not_found) when neither exists, and
// Error(ExitCode::failure) when the slot is in use by a running stream.
void drop_slot_and_publication(const Dsn& dsn, const std::optional<std::string>& password,
                               const std::string& name);

}  // namespace sluice::postgres

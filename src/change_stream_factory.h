#pragma once

#include <memory>
#include <optional>
#include <string>

#include "replication/change_stream.h"
#include "src/dsn.h"

namespace sluice {

// Opens the change stream of one table on the server named by `dsn`, for as long as the
// returned object lives. `table_text` is the table as the user typed it (`name` or
// `schema.name`; PostgreSQL's default schema is public). Throws Error: usage for a malformed
// name, and whatever the server family's stream reports (see open_postgres_stream).
std::unique_ptr<replication::ChangeStream> open_change_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table_text);

}  // namespace sluice

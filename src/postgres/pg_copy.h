#pragma once

#include <cstdint>
#include <optional>

#include "replication/change_event.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"
#include "src/verifier.h"

namespace sluice::postgres {

// The copy of a PostgreSQL rebuild: walks the table in key order and copies key ranges into
// the shadow with INSERT … SELECT, converting each column as PgTablePlan says. Each function
// runs on the session it is given and is safe to redo on a new session after a lost one.

// The end of the next chunk of about `rows` keys after `after` (from the first key when
// nullopt), or nullopt when no key is left. For a single integer key the chunk is a span of
// key values, found without reading the rows twice (the copy's sizer widens the span over
// gaps as it learns from the time a chunk takes); otherwise see offset_chunk_end().
std::optional<replication::Row> find_chunk_end(Connection& session, const PgTablePlan& plan,
                                               const std::optional<replication::Row>& after,
                                               std::uint64_t rows);

// The key `rows` rows after `after` in key order, or the last key when fewer are left, or
// nullopt when none is.
std::optional<replication::Row> offset_chunk_end(Connection& session, const PgTablePlan& plan,
                                                 const std::optional<replication::Row>& after,
                                                 std::uint64_t rows);

// Copies the table's rows in (after, up_to] into the shadow in one statement and returns how
// many it inserted. A row whose unique value the applier already wrote from a newer image is
// skipped: its own change reaches the shadow through the stream.
std::uint64_t copy_range(Connection& session, const PgTablePlan& plan,
                         const std::optional<replication::Row>& after,
                         const replication::Row& up_to);

// Replaces the shadow's rows in the range of `mismatch` by the table's current rows, in one
// transaction.
void recopy_range(Connection& session, const PgTablePlan& plan, const Mismatch& mismatch);

}  // namespace sluice::postgres

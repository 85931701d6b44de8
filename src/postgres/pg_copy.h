#pragma once

#include <cstdint>
#include <optional>

#include "replication/change_event.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"
#include "src/verifier.h"

namespace sluice::postgres {

// Key ranges of a PostgreSQL rebuild, for verification and its re-copies: chunk ends found by
// the server's own key order, and ranges copied again. Each function runs on the session it is
// given and is safe to redo on a new session after a lost one. (The copy itself reads pages
// under a snapshot: pg_snapshot_copy.h.)

// The key `rows` rows after `after` in key order, or the last key when fewer are left, or
// nullopt when none is.
std::optional<replication::Row> offset_chunk_end(Connection& session, const PgTablePlan& plan,
                                                 const std::optional<replication::Row>& after,
                                                 std::uint64_t rows);

// Replaces the shadow's rows in the range of `mismatch` by the table's current rows, in one
// transaction.
void recopy_range(Connection& session, const PgTablePlan& plan, const Mismatch& mismatch);

}  // namespace sluice::postgres

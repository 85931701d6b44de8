#pragma once

#include <string>
#include <vector>

#include "replication/change_event.h"

namespace sluice {

// Stops a rebuild on a change the copy cannot follow (docs/safety.md, "Concurrent schema
// changes"; docs/architecture.md §3): a TRUNCATE, DDL the change stream reports
// (Operation::schema_change), or a row change whose table description no longer has the
// columns the run started with — on PostgreSQL DDL is not streamed, and a RELATION message
// with the new columns comes before the table's next change. Cutting over would lose the other
// change, and applying rows by column position would put values in the wrong columns.
//
// `columns` are the source table's column names when the run planned it, in table order.
// Throws Error(ExitCode::stream) naming the change; the caller's unwinding drops the shadow
// table and leaves the original untouched. A description without column names (a binlog
// without row metadata) is not compared.
void refuse_schema_changes(const replication::Transaction& transaction,
                           const std::vector<std::string>& columns);

}  // namespace sluice

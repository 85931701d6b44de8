#pragma once

#include <memory>
#include <string>
#include <vector>

#include "replication/change_event.h"

namespace sluice {

// Stops a rebuild on a change the copy cannot follow (docs/safety.md, "Concurrent schema
// changes"; docs/architecture.md §3, rule 9): a TRUNCATE, DDL the change stream reports
// (Operation::schema_change), or a row change whose table description no longer has the
// columns the run started with — on PostgreSQL DDL is not streamed, and a RELATION message
// with the new columns comes before the table's next change. Cutting over would lose the other
// change, and applying rows by column position would put values in the wrong columns.
class SchemaGuard {
 public:
  // `columns` are the source table's column names when the run planned it, in table order.
  explicit SchemaGuard(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  // Throws Error(ExitCode::stream) naming the change; the caller's unwinding drops the shadow
  // table and leaves the original untouched. A description is compared with the planned names
  // and with the description seen before it (names and the stream's types, so a retyped column
  // counts too); one without column names (a binlog without row metadata) is not compared.
  void check(const replication::Transaction& transaction);

 private:
  std::vector<std::string> columns_;
  std::shared_ptr<const replication::TableDescription> seen_;  // the last that passed
};

}  // namespace sluice

#include "src/schema_guard.h"

#include <algorithm>

#include "src/error.h"

namespace sluice {
namespace {

using replication::ChangeEvent;
using replication::Operation;

constexpr const char* kStops =
    ", which the copy cannot follow; the migration stops before the cut-over, the shadow table "
    "is dropped and the original table is untouched: run sluice again once the other change "
    "is done";

std::string table_name(const ChangeEvent& change) {
  return change.table ? change.table->schema + "." + change.table->table : "the table";
}

bool named(const replication::TableDescription& table) {
  return std::none_of(table.columns.begin(), table.columns.end(),
                      [](const replication::Column& c) { return c.name.empty(); });
}

bool same_names(const replication::TableDescription& table,
                const std::vector<std::string>& columns) {
  return std::equal(
      table.columns.begin(), table.columns.end(), columns.begin(), columns.end(),
      [](const replication::Column& c, const std::string& name) { return c.name == name; });
}

std::string listed(const replication::TableDescription& table) {
  std::string out;
  for (const replication::Column& column : table.columns) {
    out += (out.empty() ? "" : ", ") + column.name;
  }
  return out;
}

}  // namespace

void SchemaGuard::check(const replication::Transaction& transaction) {
  for (const ChangeEvent& change : transaction.changes) {
    if (change.operation == Operation::truncate) {
      throw Error(ExitCode::stream,
                  table_name(change) + " was truncated during the migration" + std::string(kStops));
    }
    if (change.operation == Operation::schema_change) {
      throw Error(ExitCode::stream, "another session changed the schema of " + table_name(change) +
                                        " during the migration (" + change.statement + " at " +
                                        to_string(change.position) + ")" + kStops);
    }
    if (!change.table || change.table == seen_) {
      continue;  // the decoders share one description until the table changes
    }
    if (named(*change.table) && (!same_names(*change.table, columns_) ||
                                 (seen_ && seen_->columns != change.table->columns))) {
      throw Error(ExitCode::stream, "another session changed the columns of " + table_name(change) +
                                        " during the migration (the change stream now has " +
                                        listed(*change.table) + ")" + kStops);
    }
    seen_ = change.table;
  }
}

}  // namespace sluice

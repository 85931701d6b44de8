// ExpandContract's archive of what contract drops (docs/migrations.md, "contract"); split from
// src/expand_contract.cpp to keep each file small.
#include <spdlog/spdlog.h>

#include "src/archive.h"
#include "src/expand_contract_session.h"

namespace sluice {

void ExpandContract::write_archive(Session& session, const std::filesystem::path& path) {
  const bool mysql = backend_->ddl().dialect() == ddl::Dialect::mysql;
  ArchiveHeader header;
  header.migration = session.record.name;
  header.dialect = mysql ? "mysql" : "postgres";
  header.encoding = mysql ? "hex" : "text";
  // Reads the archived values of one batch of `header.table`'s rows.
  std::function<std::vector<ArchivedRow>(const KeyRange&)> read_batch;
  std::string what;
  if (!session.plan.dropped_column.empty()) {
    const std::string& column = session.plan.dropped_column;
    const std::optional<ColumnFacts> facts = backend_->column(session.table, column);
    if (!facts) {
      throw Error(ExitCode::preflight_failed, "column " + backend_->ddl().quote(column) +
                                                  " is already dropped; there is nothing to "
                                                  "archive (re-run contract without --archive)");
    }
    header.table = session.table;
    header.key = backend_->key_columns(session.table);
    header.column = column;
    header.type = facts->type;
    read_batch = [&](const KeyRange& range) {
      return backend_->read_column(session.table, column, range);
    };
    what = "column " + backend_->ddl().quote(column);
  } else {
    const std::optional<ddl::QualifiedName> old = old_table(session);
    if (!old) {
      throw Error(ExitCode::usage, "contracting migration '" + session.record.name +
                                       "' drops neither a column nor a table; leave out --archive");
    }
    if (!backend_->table_exists(*old)) {
      throw Error(ExitCode::preflight_failed,
                  "table " + ddl::quote_qualified(backend_->ddl().dialect(), *old) +
                      " is already dropped; there is nothing to archive (re-run contract "
                      "without --archive)");
    }
    TableDefinition definition = backend_->table_definition(*old);
    header.kind = ArchiveKind::table;
    header.table = *old;
    header.key = std::move(definition.key);
    header.columns = std::move(definition.columns);
    header.definition = std::move(definition.definition);
    read_batch = [this, old = *old](const KeyRange& range) {
      return backend_->read_rows(old, range);
    };
    what = "table " + ddl::quote_qualified(backend_->ddl().dialect(), *old);
  }
  ArchiveWriter writer(path, header);
  walk_batches(
      session, header.table, std::nullopt, [] { return kReadBatchRows; },
      [&](const KeyRange& range) {
        for (const ArchivedRow& row : read_batch(range)) {
          writer.add(row);
        }
      });
  writer.finish();
  check_archive(path, writer.rows());
  spdlog::info("archived {} rows of {} to {} (checked)", writer.rows(), what, path.string());
}

}  // namespace sluice

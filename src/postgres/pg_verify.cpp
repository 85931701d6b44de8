#include "src/postgres/pg_verify.h"

#include <string>

#include "src/postgres/pg_copy.h"
#include "src/postgres/pg_copy_sql.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

using replication::Row;

constexpr const char* kSnapshotBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

}  // namespace

PgSnapshots::PgSnapshots(const PgTablePlan& plan, std::unique_ptr<Connection> source,
                         std::unique_ptr<Connection> shadow)
    : plan_(plan),
      source_(std::move(source)),
      shadow_(std::move(shadow)),
      source_view_(*source_, kSnapshotBegin),
      shadow_view_(*shadow_, kSnapshotBegin) {
  const std::string snapshot = source_->query_value("SELECT pg_export_snapshot()").value_or("");
  shadow_->execute(set_transaction_snapshot(snapshot));
}

void PgSnapshots::build_indexes(std::unique_ptr<Connection> session,
                                std::function<void(Connection&)> build) {
  index_session_ = std::move(session);
  indexes_ =
      std::async(std::launch::async, [this, build = std::move(build)] { build(*index_session_); });
}

std::optional<Row> PgSnapshots::chunk_end(const std::optional<Row>& after, std::uint64_t rows) {
  return offset_chunk_end(*source_, plan_, after, rows);
}

ChunkSum PgSnapshots::source_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) {
  return sum(*source_, plan_.quoted_table, source_hashed(plan_.columns), after, up_to);
}

ChunkSum PgSnapshots::shadow_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) {
  return sum(*shadow_, plan_.quoted_shadow, shadow_hashed(plan_.columns), after, up_to);
}

void PgSnapshots::finish() {
  source_view_.commit();
  shadow_view_.commit();
  if (indexes_.valid()) {
    indexes_.get();
  }
}

ChunkSum PgSnapshots::sum(Connection& session, const std::string& table, const std::string& hashed,
                          const std::optional<Row>& after, const std::optional<Row>& up_to) {
  const KeyPredicate where = key_range(plan_.key, after, up_to);
  const ResultRow row =
      session.query_params(chunk_checksum(table, hashed, where.sql), where.params).front();
  ChunkSum sum;
  sum.rows = std::stoull(row[0].value_or("0"));
  sum.checksum = row[1].value_or("");
  return sum;
}

}  // namespace sluice::postgres

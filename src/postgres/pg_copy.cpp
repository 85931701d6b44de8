#include "src/postgres/pg_copy.h"

#include <string>

#include "src/postgres/pg_copy_sql.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

using replication::Row;
using replication::Value;
using replication::ValueKind;

std::optional<Row> read_key(Connection& session, const std::string& sql, const SqlParams& params) {
  const std::vector<ResultRow> rows = session.query_params(sql, params);
  if (rows.empty()) {
    return std::nullopt;
  }
  // The server's text of each key value, bound back as text: only the server compares keys.
  Row key;
  for (const std::optional<std::string>& value : rows.front()) {
    key.push_back(Value{ValueKind::text, value.value_or("")});
  }
  return key;
}

}  // namespace

std::optional<Row> offset_chunk_end(Connection& session, const PgTablePlan& plan,
                                    const std::optional<Row>& after, std::uint64_t rows) {
  const SqlParams params = key_range(plan.key, after, std::nullopt).params;
  if (std::optional<Row> end = read_key(
          session, nth_key(plan.quoted_table, plan.key, after.has_value(), rows - 1), params)) {
    return end;
  }
  return read_key(session, last_key(plan.quoted_table, plan.key, after.has_value()), params);
}

void recopy_range(Connection& session, const PgTablePlan& plan, const Mismatch& mismatch) {
  const KeyPredicate where = key_range(plan.key, mismatch.after, mismatch.up_to);
  Transaction transaction(session);
  session.query_params(delete_where(plan.quoted_shadow, where.sql), where.params);
  session.query_params(copy_rows(plan, where.sql, true), where.params);
  transaction.commit();
}

}  // namespace sluice::postgres

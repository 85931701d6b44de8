#include "src/postgres/pg_copy.h"

#include <algorithm>
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
  Row key;
  for (const std::optional<std::string>& value : rows.front()) {
    key.push_back(Value{ValueKind::number, value.value_or("")});
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

std::optional<Row> find_chunk_end(Connection& session, const PgTablePlan& plan,
                                  const std::optional<Row>& after, std::uint64_t rows) {
  if (!plan.integer_key) {
    return offset_chunk_end(session, plan, after, rows);
  }
  const std::vector<ResultRow> bounds =
      session.query(key_bounds(plan.quoted_table, plan.key.front()));
  if (!bounds.front()[1]) {
    return std::nullopt;
  }
  const __int128 low = after ? std::stoll(after->front().text) : std::stoll(*bounds.front()[0]) - 1;
  const __int128 high = std::stoll(*bounds.front()[1]);
  if (low >= high) {
    return std::nullopt;
  }
  const auto end = static_cast<long long>(std::min<__int128>(high, low + rows));
  return Row{Value{ValueKind::number, std::to_string(end)}};
}

std::uint64_t copy_range(Connection& session, const PgTablePlan& plan,
                         const std::optional<Row>& after, const Row& up_to) {
  const KeyPredicate where = key_range(plan.key, after, up_to);
  std::uint64_t copied = 0;
  try {
    session.query_params(copy_rows(plan, where.sql, false), where.params, &copied);
  } catch (const ServerError& error) {
    if (error.kind() != ServerErrorKind::unique_violation) {
      throw;
    }
    // A row collides on a unique value with a row the applier wrote from a newer image; its own
    // change is held until this chunk commits and then lands, so the chunk skips it. (ON
    // CONFLICT on every chunk would cost a speculative insertion per row.) The plan refuses
    // ALTERs that add a unique constraint, where skipping would lose rows.
    session.query_params(copy_rows(plan, where.sql, true), where.params, &copied);
  }
  return copied;
}

void recopy_range(Connection& session, const PgTablePlan& plan, const Mismatch& mismatch) {
  const KeyPredicate where = key_range(plan.key, mismatch.after, mismatch.up_to);
  Transaction transaction(session);
  session.query_params(delete_where(plan.quoted_shadow, where.sql), where.params);
  session.query_params(copy_rows(plan, where.sql, true), where.params);
  transaction.commit();
}

}  // namespace sluice::postgres

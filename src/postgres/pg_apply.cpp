#include "src/postgres/pg_apply.h"

#include <algorithm>
#include <map>

#include "src/postgres/pg_apply_sql.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

using replication::Row;
using replication::Value;
using replication::ValueKind;

// PostgreSQL binds at most 65535 parameters per statement.
constexpr std::size_t kStatementParams = 30000;
// Rows per batched statement of the applier (one array parameter per column).
constexpr std::size_t kBatchRows = 10000;

constexpr const char* kUniqueIndexColumns =
    "SELECT i.indexrelid::text, quote_ident(a.attname) FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = $1::regclass AND i.indisunique AND NOT i.indisprimary AND "
    "i.indexprs IS NULL AND i.indpred IS NULL ORDER BY i.indexrelid, k.ord";

bool has_unchanged(const Row& row) {
  return std::any_of(row.begin(), row.end(),
                     [](const Value& value) { return value.kind == ValueKind::unchanged; });
}

}  // namespace

PgApply::PgApply(const PgTablePlan& plan) : plan_(plan) {}

void PgApply::write_batch(Connection& session, const std::vector<Row>& delete_keys,
                          const std::vector<Row>& rows, const std::vector<Row>& fill_from) {
  struct Timer {
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::duration& total;
    ~Timer() { total += std::chrono::steady_clock::now() - started; }
  } timer{std::chrono::steady_clock::now(), apply_time_};
  Transaction transaction(session);
  // Read before the deletes, which may remove the rows holding the values.
  const std::vector<Completed> completed = fill_unchanged(session, rows, fill_from);
  delete_rows(session, delete_keys);
  insert_rows(session, completed);
  transaction.commit();
}

std::vector<PgApply::Completed> PgApply::fill_unchanged(Connection& session,
                                                        const std::vector<Row>& rows,
                                                        const std::vector<Row>& fill_from) {
  std::vector<Completed> completed(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    completed[r].values = rows[r];
    completed[r].from_shadow.assign(rows[r].size(), false);
  }
  // Where each value may still be found, in order: the shadow row under fill_from (the state
  // before this write, already in the new column types), then the table's row under the row's
  // own key, then under fill_from.
  struct Lookup {
    bool shadow;
    bool own_key;
  };
  const std::size_t key_size = plan_.key.size();
  for (const Lookup lookup : {Lookup{true, false}, Lookup{false, true}, Lookup{false, false}}) {
    std::vector<std::size_t> missing;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (has_unchanged(completed[r].values)) {
        missing.push_back(r);
      }
    }
    if (missing.empty()) {
      break;
    }
    // One text array per key column; the server matches the keys (never the client).
    std::vector<std::vector<std::optional<std::string>>> keys(key_size);
    for (std::size_t r : missing) {
      for (std::size_t i = 0; i < key_size; ++i) {
        keys[i].push_back(
            bind_text(lookup.own_key ? rows[r][plan_.key_in_mapped[i]] : fill_from[r][i]));
      }
    }
    Params params;
    for (const auto& column : keys) {
      params.push_back(array_literal(column));
    }
    for (const ResultRow& match :
         session.query_params(select_by_keys(plan_, lookup.shadow), params)) {
      Completed& row = completed[missing[std::stoull(match[0].value_or("1")) - 1]];
      for (std::size_t i = 0; i < row.values.size(); ++i) {
        if (row.values[i].kind == ValueKind::unchanged) {
          const std::optional<std::string>& text = match[1 + i];
          row.values[i] = text ? Value{ValueKind::text, *text} : Value{};
          row.from_shadow[i] = lookup.shadow;
        }
      }
    }
  }
  for (Completed& row : completed) {
    row.keep = !has_unchanged(row.values);
  }
  return completed;
}

void PgApply::delete_rows(Connection& session, const std::vector<Row>& keys) {
  const std::size_t key_size = plan_.key.size();
  const std::size_t batch =
      key_size == 1 ? kBatchRows : std::max<std::size_t>(1, kStatementParams / key_size);
  for (std::size_t start = 0; start < keys.size(); start += batch) {
    const std::size_t end = std::min(keys.size(), start + batch);
    Params params;
    for (std::size_t k = start; k < end; ++k) {
      for (const Value& value : keys[k]) {
        params.push_back(bind_text(value));
      }
    }
    if (key_size == 1) {
      // One array parameter for the whole batch.
      params = {array_literal(params)};
    }
    session.query_params(delete_keys(plan_, end - start), params);
  }
}

void PgApply::insert_rows(Connection& session, const std::vector<Completed>& rows) {
  const std::size_t width = plan_.columns.size();
  // Most rows go in batches, one text array per column. Stream values are the source type's
  // text: each is cast to the source type, then converted to the new column exactly as the copy
  // converts it.
  const std::string batch = batch_rows(plan_.columns);
  std::vector<std::vector<std::optional<std::string>>> columns(width);
  auto insert_batch = [&] {
    if (columns.front().empty()) {
      return;
    }
    Params params;
    for (auto& column : columns) {
      params.push_back(array_literal(column));
      column.clear();
    }
    insert_replacing(session, batch, params);
  };
  for (const Completed& row : rows) {
    if (!row.keep) {
      continue;
    }
    const bool from_shadow =
        std::find(row.from_shadow.begin(), row.from_shadow.end(), true) != row.from_shadow.end();
    if (!from_shadow) {
      for (std::size_t i = 0; i < width; ++i) {
        columns[i].push_back(bind_text(row.values[i]));
      }
      if (columns.front().size() == kBatchRows) {
        insert_batch();
      }
      continue;
    }
    // A row holding values taken from the shadow goes alone: those values are already in the
    // new column types and must not pass through the conversion a second time.
    Params params;
    for (std::size_t i = 0; i < width; ++i) {
      params.push_back(bind_text(row.values[i]));
    }
    insert_replacing(session, single_row(plan_.columns, row.from_shadow), params);
  }
  insert_batch();
}

void PgApply::insert_replacing(Connection& session, const std::string& rows, const Params& params) {
  const std::string insert = insert_rows_into(plan_, rows);
  if (shadow_unique_columns(session).empty()) {
    // The batch deleted every key it inserts, so only a unique value other than the key can
    // collide: without such an index there is nothing to undo, and no savepoint to pay for (two
    // round trips per statement, and a subtransaction each).
    session.query_params(insert, params);
    return;
  }
  session.execute("SAVEPOINT sluice_apply");
  try {
    session.query_params(insert, params);
  } catch (const ServerError& error) {
    if (error.kind() != ServerErrorKind::unique_violation) {
      throw;
    }
    // A row of the shadow still holds, from an older image, a unique value that a newer image
    // being applied now takes: the source had already moved it on, and that change comes later
    // in the stream (or was copied), so it goes now, as MySQL's REPLACE does. Verification
    // proves the result.
    session.execute("ROLLBACK TO SAVEPOINT sluice_apply");
    for (const std::vector<std::string>& columns : shadow_unique_columns(session)) {
      session.query_params(delete_unique_matches(plan_, rows, columns), params);
    }
    session.query_params(insert, params);
  }
  session.execute("RELEASE SAVEPOINT sluice_apply");
}

const std::vector<std::vector<std::string>>& PgApply::shadow_unique_columns(Connection& session) {
  if (!shadow_unique_columns_) {
    std::map<std::string, std::vector<std::string>> by_index;
    for (const ResultRow& row : session.query(kUniqueIndexColumns, {plan_.quoted_shadow})) {
      by_index[row[0].value_or("")].push_back(row[1].value_or(""));
    }
    shadow_unique_columns_.emplace();
    for (auto& [index, columns] : by_index) {
      shadow_unique_columns_->push_back(std::move(columns));
    }
  }
  return *shadow_unique_columns_;
}

}  // namespace sluice::postgres

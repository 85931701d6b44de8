#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "replication/change_event.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// The applier's writes to the shadow of a PostgreSQL rebuild: each batch deletes the keys it
// touches and inserts their latest row images, converted as the copy converts them, in one
// transaction. Unchanged-TOAST values (pgoutput sends none for a value an UPDATE left alone)
// are filled in from the shadow, else from the table, before the deletes.
class PgApply {
 public:
  // `plan` is complete (the shadow described) before the first batch and outlives this object.
  explicit PgApply(const PgTablePlan& plan);

  // Writes one batch on `session` in one transaction, safe to redo on a new session when the
  // first was lost before its commit was acknowledged. `fill_from[i]` is the key under which
  // rows[i]'s unchanged values are found (its key before the batch). A row found nowhere, and
  // so no longer in the table, is skipped: a later change in the stream deletes or moves it.
  void write_batch(Connection& session, const std::vector<replication::Row>& delete_keys,
                   const std::vector<replication::Row>& rows,
                   const std::vector<replication::Row>& fill_from);

  // The time spent in write_batch so far, for the cut-over's logs.
  std::chrono::steady_clock::duration apply_time() const { return apply_time_; }

 private:
  // A row image ready to insert: its unchanged-TOAST values filled in.
  struct Completed {
    replication::Row values;
    std::vector<bool> from_shadow;  // per value: read from the shadow, already converted
    bool keep = true;               // false: the row is gone from the table, skip it
  };
  std::vector<Completed> fill_unchanged(Connection& session,
                                        const std::vector<replication::Row>& rows,
                                        const std::vector<replication::Row>& fill_from);
  void delete_rows(Connection& session, const std::vector<replication::Row>& keys);
  void insert_rows(Connection& session, const std::vector<Completed>& rows);
  // Inserts `rows` (batch_rows() or single_row(), with `params`) into the shadow. When that
  // collides on a unique index other than the primary key, the shadow's rows holding those
  // values are deleted and the insert redone, under a savepoint taken only when the shadow has
  // such an index. Runs inside the batch's transaction, whose rollback also ends the
  // savepoint.
  void insert_replacing(Connection& session, const std::string& rows, const Params& params);
  // The columns (quoted) of each unique index of the shadow other than its primary key.
  const std::vector<std::vector<std::string>>& shadow_unique_columns(Connection& session);

  const PgTablePlan& plan_;
  std::optional<std::vector<std::vector<std::string>>> shadow_unique_columns_;
  std::chrono::steady_clock::duration apply_time_{};
};

}  // namespace sluice::postgres

#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ddl/identifier.h"
#include "src/dsn.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"
#include "src/rebuild_backend.h"

namespace sluice::postgres {

// The shadow table of a PostgreSQL rebuild and what a run leaves behind: creates the shadow
// from plan_rebuild()'s statements or adopts a killed run's, describes its columns into the
// PgTablePlan, holds back the indexes no constraint needs until the copy is done, and drops
// the shadow, the run's slot and publication when a run fails or is cleaned up. Each method
// runs on the session it is given; the caller reconnects.
class PgShadow {
 public:
  // `plan` and `table` are filled by plan_rebuild() before create() or attach(), and outlive
  // this object.
  PgShadow(const Dsn& dsn, const std::optional<std::string>& password, const RebuildPlan& plan,
           PgTablePlan& table);

  // Runs plan.shadow_ddl in one transaction, describes the shadow into the PgTablePlan and
  // drops its indexes that no constraint needs, to be built by build_deferred_indexes(). Throws
  // Error(ExitCode::usage) when the server refuses the ALTER on the shadow, or when it makes a
  // kept column generated or otherwise unreadable (the shadow is dropped again).
  void create(Connection& main);

  // Adopts the shadow of a killed run (RebuildOptions::resume): describes it and lists the
  // original's indexes it still lacks as deferred.
  void attach(Connection& main);

  void drop(Connection& main);

  // Builds the indexes create() or attach() held back, on `session`, and forgets them.
  void build_deferred_indexes(Connection& session);
  bool has_deferred_indexes() const { return !deferred_indexes_.empty(); }

  // See RebuildBackend::complete_interrupted_swap; `table` resolved.
  bool complete_interrupted_swap(Connection& main, const ddl::QualifiedName& table);

  // See RebuildBackend::cleanup; `table` resolved.
  std::vector<std::string> cleanup(Connection& main, const ddl::QualifiedName& table);

 private:
  // Reads each kept column's type in the shadow and how the copy computes it, and the
  // sequences to carry over; throws Error(ExitCode::usage) when a kept column is missing.
  void describe(Connection& main);

  const Dsn& dsn_;
  const std::optional<std::string>& password_;
  const RebuildPlan& plan_;
  PgTablePlan& table_;
  std::vector<std::string> deferred_indexes_;  // CREATE INDEX statements run after the copy
};

}  // namespace sluice::postgres

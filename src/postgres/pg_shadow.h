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

// Runs the first two statements of plan.shadow_ddl (CREATE TABLE … LIKE, then the user's ALTER)
// in the caller's transaction, the ALTER made to name the shadow's copies of the constraints it
// names (retarget_constraint). Throws ServerError when the server refuses either.
void create_altered_shadow(Connection& main, const RebuildPlan& plan, const PgTablePlan& table);

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
  // drops its indexes: the primary key, unique constraints and unique indexes, to be built by
  // build_key_indexes() once the copy is done, and the others, built by
  // build_deferred_indexes(). Exclusion constraints stay. Throws Error(ExitCode::usage) when
  // the server refuses the ALTER on the shadow, or when it makes a kept column generated or
  // otherwise unreadable (the shadow is dropped again). With `replace`, a shadow that exists
  // already is dropped in the same transaction: a killed run's shadow is never left half made.
  void create(Connection& main, bool replace = false);

  // Adopts the shadow of a killed run (RebuildOptions::resume) whose copy was complete, so its
  // key and unique indexes were built: describes it and lists the original's other indexes it
  // still lacks as deferred. A killed run's shadow whose copy was not complete may lack its
  // key indexes, which nothing here lists: drop it and create() it again.
  void attach(Connection& main);

  void drop(Connection& main);

  // Builds the primary key, unique constraints and unique indexes create() held back, each
  // under its name and with at least 256 MB of maintenance_work_mem; one the server has
  // already (a redo after a lost session) is skipped. Throws ServerError when the rows break
  // one (a conversion that made two values equal).
  void build_key_indexes(Connection& session);
  // Builds the other indexes create() or attach() held back, on `session`, forgetting each once
  // built, so a call after a lost session builds only the rest. One create() held back under a
  // name the shadow has already (the lost attempt committed it) is skipped.
  void build_deferred_indexes(Connection& session);
  bool has_deferred_indexes() const { return !deferred_indexes_.empty(); }

  // See RebuildBackend::complete_interrupted_swap; `table` resolved.
  bool complete_interrupted_swap(Connection& main, const ddl::QualifiedName& table,
                                 const std::string& old_suffix);

  // See RebuildBackend::cleanup; `table` resolved.
  std::vector<std::string> cleanup(Connection& main, const ddl::QualifiedName& table);

 private:
  // Reads each kept column's type in the shadow and how the copy computes it, and the
  // sequences to carry over; throws Error(ExitCode::usage) when a kept column is missing.
  void describe(Connection& main);
  // Fills PgTablePlan::filled: for each column the ALTER adds with a default that is not
  // volatile, the one value the existing rows get. A resumed run reads it back from a row the
  // killed run copied, so every row keeps the same value.
  void fill_stable_defaults(Connection& main);

  const Dsn& dsn_;
  const std::optional<std::string>& password_;
  const RebuildPlan& plan_;
  PgTablePlan& table_;
  struct HeldIndex {
    std::string create;  // ALTER TABLE … ADD CONSTRAINT or CREATE [UNIQUE] INDEX
    // The index's, qualified and quoted; none for an index attach() lets the server name.
    std::optional<std::string> name;
  };
  std::vector<HeldIndex> key_indexes_;       // built once the copy is done, before the stream
  std::vector<HeldIndex> deferred_indexes_;  // built during verification
};

}  // namespace sluice::postgres

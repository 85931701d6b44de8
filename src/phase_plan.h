#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ddl/identifier.h"
#include "src/migration_spec.h"

namespace sluice {

// What the server stores about one column, as SQL the DDL builders can splice in.
struct ColumnFacts {
  std::string type;  // full type, with character set and collation where they matter
  bool nullable = true;
  std::optional<std::string> default_sql;  // the DEFAULT expression, if any
};

// What one schema step does: the runner checks it against the catalog first, so a step that
// is already done (a crash after it, a re-run) is skipped instead of failing.
enum class StepKind {
  add_column,      // object: the column; done when it exists
  drop_column,     // done when it does not exist
  drop_not_null,   // done when the column is nullable
  set_not_null,    // done when the column is NOT NULL
  set_default,     // always runs (setting a default twice is harmless)
  add_check,       // object: the constraint; done when it exists and checks `columns` IS NOT NULL
  validate_check,  // done when it is validated
  drop_check,      // done when it does not exist
  create_index,    // object: the index; done when it exists on the table, on `columns`, with
                   // `unique`, and is valid
  drop_index,      // done when the table has no index of that name
  // sql: an ALTER specification that sluice alter's online rebuild applies; object: the column
  // it makes NOT NULL (done when it is), or empty for a rebuild migration (done when the
  // checkpoint names the old table it kept)
  online_rebuild,
  drop_old_table,  // drops the table an online rebuild kept (named in the checkpoint)
};

struct Step {
  StepKind kind;
  std::string object;  // the column, constraint or index it is about
  std::string sql;     // what runs (for online_rebuild: the ALTER specification)
  // What the object must be for the step to count as done, not merely its name: create_index's
  // columns in order and uniqueness; add_check's one column (the CHECK is `column IS NOT NULL`).
  std::vector<std::string> columns = {};
  bool unique = false;
};

// The SQL of one server family for column-level steps (pure text, unit tested). Names are
// unquoted; the builders quote them.
class ColumnDdl {
 public:
  virtual ~ColumnDdl() = default;
  virtual ddl::Dialect dialect() const = 0;
  virtual std::vector<Step> add_column(const ddl::QualifiedName& table, const std::string& column,
                                       const std::string& type) const = 0;
  virtual std::vector<Step> drop_column(const ddl::QualifiedName& table,
                                        const std::string& column) const = 0;
  virtual std::vector<Step> drop_not_null(const ddl::QualifiedName& table,
                                          const std::string& column,
                                          const ColumnFacts& facts) const = 0;
  // The steps that make `column` NOT NULL without holding a lock for a table scan.
  virtual std::vector<Step> set_not_null(const ddl::QualifiedName& table, const std::string& column,
                                         const ColumnFacts& facts) const = 0;
  virtual std::vector<Step> set_default(const ddl::QualifiedName& table, const std::string& column,
                                        const std::string& default_sql) const = 0;
  // PostgreSQL: a CHECK (column IS NOT NULL) NOT VALID that new writes must meet at once.
  // MySQL: none (the NOT NULL comes with the switch's rebuild).
  virtual std::vector<Step> guard_not_null(const ddl::QualifiedName& table,
                                           const std::string& column) const = 0;
  virtual std::vector<Step> unguard_not_null(const ddl::QualifiedName& table,
                                             const std::string& column) const = 0;
  virtual std::vector<Step> create_index(const ddl::QualifiedName& table, const std::string& index,
                                         const std::vector<std::string>& columns,
                                         bool unique) const = 0;
  virtual std::vector<Step> drop_index(const ddl::QualifiedName& table,
                                       const std::string& index) const = 0;
  // `a` and `b` differ, NULLs included (MySQL: NOT (a <=> b); PostgreSQL: IS DISTINCT FROM).
  virtual std::string differs(const std::string& a, const std::string& b) const = 0;
  // The backfill of change-type when the file names none: the old column converted.
  virtual std::string default_conversion(const std::string& column,
                                         const std::string& type) const = 0;
  std::string quote(const std::string& name) const {
    return ddl::quote_identifier(dialect(), name);
  }
  // `names` quoted and separated by ", ".
  std::string quote_list(const std::vector<std::string>& names) const {
    std::string list;
    for (const std::string& name : names) {
      list += (list.empty() ? "" : ", ") + quote(name);
    }
    return list;
  }
};

// How the backfill fills the target column: rows where it is NULL get `expression`.
struct BackfillPlan {
  std::string column;      // unquoted
  std::string expression;  // SQL over the row's columns
};

// The condition a backfill batch writes rows under: where the column is NULL and the expression
// is not (a plain backfill never writes over a value the application wrote); with `repair`,
// where verification's `mismatch` holds, except rows where both the column and the expression
// are NULL (which agree, and which add-not-null's check refuses anyway).
std::string backfill_rows(const BackfillPlan& backfill, const std::string& mismatch,
                          const ColumnDdl& ddl, bool repair);

// Every phase of one migration, as `sluice plan` prints it and the commands run it.
struct PhasePlan {
  std::vector<Step> expand;
  std::optional<BackfillPlan> backfill;
  // A condition true for rows that are not migrated correctly; nullopt when nothing can be
  // checked row by row.
  std::optional<std::string> mismatch;
  std::vector<Step> switch_steps;
  std::vector<Step> contract;
  std::vector<Step> abort;
  // What the application must do after expand, after switch and before contract.
  std::string after_expand;
  std::string after_switch;
  // The column contract drops (to archive), if any.
  std::string dropped_column;
};

// Plans `spec` on `table`. `subject` describes spec.column as it is before expand (nullopt for
// add-column and add-index, which do not read an existing column). Throws Error(usage) for a
// backfill that is more than one expression.
PhasePlan plan_phases(const MigrationSpec& spec, const ddl::QualifiedName& table,
                      const std::optional<ColumnFacts>& subject, const ColumnDdl& ddl);

}  // namespace sluice

#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// Pure SQL text for the swap transaction (no connection): renames, sequences, triggers, row
// security, replica identity, publications, and the foreign keys and views re-created on the
// new table. Table names are already quoted unless a parameter says otherwise.

// The swap transaction's locks: ACCESS EXCLUSIVE on the table, autovacuum kept off it and off the
// shadow first (lock_past_vacuum): an autovacuum of the freshly filled shadow would hold the
// swap's RENAME under the write lock.
std::vector<std::string> swap_locks(const PgTablePlan& plan, std::chrono::milliseconds timeout);

// ALTER TABLE table RENAME TO name; `name` unquoted (a rename keeps the schema).
std::string rename_table(const std::string& table, const std::string& name);

// For each pair (original's index, shadow's index with the same definition; unquoted, in
// `schema`): the original's index takes its name with `old_suffix` (RebuildPlan::old_suffix) and
// the shadow's takes the original's, so that an application naming an index or the constraint
// it carries keeps working. A shadow index is renamed once, and not at all when it already has
// the name or has a name the ALTER gave it (`named_by_alter`: RENAME CONSTRAINT a TO b keeps b).
// A shadow index that has the name its original is about to take (a revert's shadow is an old
// table, whose indexes carry `old_suffix`) is parked under another name first.
std::vector<std::string> index_renames(
    const std::string& schema, const std::vector<std::pair<std::string, std::string>>& pairs,
    const std::string& old_suffix, const std::vector<std::string>& named_by_alter);

// Moves the new table's identity sequence on to where the old one stands; binds the shadow's
// sequence as $1. Only for a SequenceMove with a `shadow`.
std::string continue_sequence(const SequenceMove& move);

// The swap's statements for `move`: an identity sequence of the new table takes the old one's
// name (applications may call nextval or currval on it); a serial's sequence, which the new
// table's default already calls, becomes owned by the new table's column, so it no longer
// disappears with the old table. `table` is the table's name after the swap; the old identity
// sequence takes its name with `old_suffix`, the new one parked first when it has that name (a
// revert).
std::vector<std::string> carry_sequence(const SequenceMove& move, const std::string& table,
                                        const std::string& old_suffix);

std::string force_row_security(const std::string& table);

// Enables `trigger` on `table` as it was enabled on the original (O fires normally, R only for
// replication, A always); nullopt for D, which stays disabled.
std::optional<std::string> enable_trigger(const std::string& table, const TriggerState& trigger);

// The replica identity `kind` (pg_class.relreplident: d, f, n or i) set on `table`; `index`
// (quoted) for i. nullopt for the default, or i without an index.
std::optional<std::string> replica_identity(const std::string& table, const std::string& kind,
                                            const std::optional<std::string>& index);

// Moves `table` in `publication` (quoted) from the old table `old` to the new table `table`
// with the column list (quoted, comma separated) and row filter it had.
std::vector<std::string> move_publication(const std::string& publication, const std::string& old,
                                          const std::string& table,
                                          const std::optional<std::string>& columns,
                                          const std::optional<std::string>& filter);

// A foreign key to or from the table, or a view reading it, which the swap re-creates on the
// new table.
struct Dependent {
  enum class Kind { foreign_key, view };
  Kind kind = Kind::foreign_key;
  std::string table;       // foreign key: the table it is on after the swap, quoted
  std::string old_table;   // foreign key: the table it is on before the swap, quoted
  std::string name;        // constraint name, or the view's qualified name, quoted
  std::string definition;  // pg_get_constraintdef / pg_get_viewdef, as re-created
  std::string options;     // view: reloptions ("security_barrier=true")
  bool validate = false;   // foreign key: valid before, so validated after the swap
};

// A foreign key `definition` as the swap adds it: NOT VALID, so that the swap does not scan;
// `validate` tells whether it was valid before (and is validated after the swap).
std::string not_valid(const std::string& definition, bool& validate);

// A view's definition as pg_get_viewdef prints it, without the trailing semicolon.
std::string view_body(std::string definition);

// The swap's statements re-creating `dependents` on the new table: a foreign key is dropped
// from the old table (kept, it would go on checking, and blocking deletes of, parent rows for
// rows the application has since changed) and added to the new one; a view is replaced by the
// same query, which now resolves the table's name to the new table.
std::vector<std::string> recreate_dependents(const std::vector<Dependent>& dependents);

std::string validate_constraint(const Dependent& foreign_key);

}  // namespace sluice::postgres

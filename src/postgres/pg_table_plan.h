#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ddl/identifier.h"

namespace sluice::postgres {

// What the PostgreSQL rebuild's roles know about the table, its shadow and how rows move from
// one to the other: a value, written by PgShadow (plan() for the table, create_shadow() or
// attach_shadow() for the shadow's columns) and read by the copy, the applier, verification
// and the cut-over, which build their SQL from it (docs/architecture.md).

// One column the copy carries from the table to its shadow.
struct PgColumn {
  std::string name;         // quoted
  std::string source_type;  // format_type() of the table's column
  // Known once the shadow exists:
  std::string shadow_type;  // format_type() of the shadow's column
  // The new column's value computed from the table's row: the column itself, a cast to the
  // shadow's type, or the ALTER's USING expression. The copy and the applier both use it, so a
  // row converts the same whichever of them writes it.
  std::string value;
  // Whether the shadow's type has a hash function; verification hashes other types as text.
  bool hashable = true;
};

// A column the ALTER adds whose default is not volatile (now(), a literal, a stable function):
// the server's own ALTER gives every existing row one value of it, evaluated once. The copy and
// the applier write that value, taken when the shadow was made, instead of letting each chunk's
// statement evaluate the default anew (docs/architecture.md, "Added columns' defaults").
struct PgFilledColumn {
  std::string name;   // quoted
  std::string value;  // an SQL literal of the column's type: 'text'::type or NULL::type
};

// A sequence feeding a column of the table: an identity column's own sequence (the shadow has a
// new one, which must continue where the old one stands) or a serial's owned sequence (the
// shadow's default already calls it; only its ownership moves).
struct SequenceMove {
  std::string column;                 // unquoted
  std::string source;                 // as pg_get_serial_sequence prints it: quoted, qualified
  std::string source_name;            // its relname, unquoted
  std::optional<std::string> shadow;  // the shadow's identity sequence, quoted
  std::string shadow_name;            // its relname, unquoted
  std::string schema;                 // the shadow sequence's schema, unquoted
};

// A user trigger of the table, created disabled on the shadow and enabled alike at the swap.
struct TriggerState {
  std::string name;     // quoted
  std::string enabled;  // pg_trigger.tgenabled: O, R, A or D
};

struct PgTablePlan {
  std::string oid;  // the table's oid as text; names the run's slot and publication
  ddl::QualifiedName table;
  ddl::QualifiedName shadow;  // _<table>_new
  ddl::QualifiedName old;     // _<table><old_suffix>: the old table after the swap
  std::string old_suffix;     // RebuildPlan::old_suffix: also of the old indexes and sequences
  std::string quoted_table;
  std::string quoted_shadow;
  std::string quoted_old;

  // The key the change stream identifies rows by, which the applier matches rows by and
  // verification walks.
  std::vector<std::string> key;            // quoted, in key order
  std::vector<std::size_t> key_in_mapped;  // where each key column sits in `columns`

  std::vector<PgColumn> columns;       // the columns the ALTER keeps, in table order
  std::vector<PgFilledColumn> filled;  // known once the shadow exists
  std::vector<TriggerState> triggers;
  // FORCE ROW LEVEL SECURITY, set on the new table only at the swap: set on the shadow, it
  // would subject the copy itself to the policies.
  bool force_row_security = false;
  std::vector<SequenceMove> sequences;  // known once the shadow exists
  // Index and constraint names the ALTER gives (AlterAnalysis::added_indexes): the swap leaves
  // them as they are.
  std::vector<std::string> named_by_alter;
  // The table's definition when the run planned (read_definition): PostgreSQL's change stream
  // carries no DDL, so the cut-over compares it under its lock (docs/architecture.md §3, rule 9).
  std::string definition;
  // sluice revert: the old table the shadow is, by the name it is given back when the revert
  // fails before its swap (RebuildOptions::reverting_old_table). Its change stream is the
  // reverse slot (revert_slot_name), its copy done.
  std::optional<ddl::QualifiedName> adopted_old;
};

}  // namespace sluice::postgres

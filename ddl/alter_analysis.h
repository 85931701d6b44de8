#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ddl/identifier.h"

namespace sluice::ddl {

// What one ALTER TABLE specification (the text after `ALTER TABLE name`, e.g.
// "ADD COLUMN note TEXT, MODIFY k BIGINT NOT NULL, DROP COLUMN legacy") does to a table, as far
// as an online rebuild needs to know. Column names are unquoted, exactly as the server stores
// them (PostgreSQL bare names folded to lower case).
struct AlterAnalysis {
  std::vector<std::string> added_columns;
  std::vector<std::string> dropped_columns;
  std::vector<std::string> modified_columns;  // type or attribute changes of a kept column
  std::vector<std::string> added_indexes;     // index / key / constraint names ("" when unnamed)
  std::vector<std::string> dropped_indexes;
  bool adds_unique_key = false;        // ADD UNIQUE / ADD PRIMARY KEY / unique constraint
  bool changes_primary_key = false;    // DROP PRIMARY KEY or ADD PRIMARY KEY
  bool changes_table_options = false;  // ENGINE=, CHARSET, COMMENT=, ROW_FORMAT, FORCE, ...
  // True when every clause is one the server can apply in its catalog without copying rows
  // (MariaDB/MySQL ALGORITHM=INSTANT: ADD COLUMN, DROP COLUMN, SET/DROP DEFAULT, RENAME INDEX;
  // PostgreSQL: ADD COLUMN whose default is a literal or NULL, DROP COLUMN, SET/DROP DEFAULT,
  // RENAME CONSTRAINT). The server has the last word; this only says whether asking it is
  // worthwhile. A renamed index or constraint appears in dropped_indexes (old name) and
  // added_indexes (new name).
  bool instant_candidate = false;
  // The specification with comments removed and whitespace normalised, one entry per
  // top-level clause, ready to append to "ALTER TABLE <shadow> ".
  std::vector<std::string> clauses;
};

// Parses and classifies `specification`. Throws DdlError with one sentence saying what is wrong
// and what to do for: an empty specification; more than one statement ("…; DROP TABLE x");
// unbalanced quotes or parentheses; column renames (RENAME COLUMN, CHANGE old new, PostgreSQL
// RENAME [COLUMN] a TO b), whose message points to the expand-contract path (rename = add +
// backfill + drop, `sluice plan`); table renames (RENAME TO); partitioning clauses;
// ALGORITHM= / LOCK= clauses (sluice chooses how to run the change); MySQL ORDER BY and
// DISCARD/IMPORT TABLESPACE; PostgreSQL clauses that make no sense for a rebuilt copy (SET SCHEMA,
// SET UNLOGGED, OWNER TO, ENABLE/DISABLE TRIGGER/RULE, REPLICA IDENTITY, CLUSTER ON, [NO]
// INHERIT); text whose meaning the server decides at run time (MySQL executable comments /*! */,
// MySQL backslash-escaped quotes, which depend on NO_BACKSLASH_ESCAPES, PostgreSQL U& escapes);
// a column definition or default containing ADD/DROP/ALTER/MODIFY/CHANGE/RENAME (a missing or
// commented-out comma); and clauses it does not recognise.
AlterAnalysis analyze_alter(Dialect dialect, std::string_view specification);

}  // namespace sluice::ddl

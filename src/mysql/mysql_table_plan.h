#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ddl/identifier.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// A column the ALTER adds whose default is the statement's time (DEFAULT CURRENT_TIMESTAMP,
// NOW(), CURDATE(), ...): the server's own ALTER gives every existing row one value of it. The
// copy and the applier write that value instead of letting each chunk's statement take its own
// time (docs/architecture.md §3.1, "Added columns' defaults").
struct FilledColumn {
  std::string name;   // unquoted
  std::string value;  // an SQL string literal, converted by the column's type on insert
};

// What every role of a MySQL rebuild (shadow, copy, apply, verify, cut-over) reads about the
// table, and the one input of the SQL builders they call: names and columns, never SQL text.
// MysqlShadow::plan fills the table's part once; MysqlShadow::attach_shadow adds what the
// server made of the shadow table. Nothing changes it afterwards.
struct MysqlTablePlan {
  TableSchema source;  // the table, with the key the copy walks (PRIMARY or NOT NULL UNIQUE)
  std::vector<std::size_t> mapped_columns;  // source columns copied, by index, in table order
  ddl::QualifiedName shadow;                // <table>_sluice_new
  ddl::QualifiedName swap;    // <table>_sluice_old: the cut-over's sentry and its RENAME's target
  ddl::QualifiedName old;     // _<table>_old: where the old table is kept after the swap
  TableSchema shadow_schema;  // the shadow as the server created it
  // Column lists of the UNIQUE keys the ALTER adds: verification then accepts rows missing from
  // the shadow as duplicates of another row in one of them, and counts them.
  std::vector<std::vector<std::string>> added_unique_keys;
  std::vector<FilledColumn> filled;
  // The plain secondary indexes the shadow holds back during the copy, so that InnoDB need not
  // maintain them row by row, and builds after it (MysqlShadow::build_held_back_indexes()), and
  // the shadow's own table comment, which its comment replaces meanwhile (HeldBackIndexes).
  std::vector<std::string> held_back_indexes;
  std::string shadow_comment;
  // The table's SHOW CREATE TABLE when the run planned, as comparable_definition() keeps it: DDL
  // run with sql_log_bin=0 reaches no binlog, so the cut-over compares it under its lock.
  std::string definition;
};

}  // namespace sluice::mysql

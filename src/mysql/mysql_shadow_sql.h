#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ddl/identifier.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// The names and SQL text of the shadow role (MysqlShadow): pure, no connection, unit tested in
// tests/mysql_shadow_sql_test.cpp.

// The cut-over renames the table to <table>_sluice_old, which doubles as the sentry. The server
// takes a RENAME's metadata locks in name order, and a name extending the table's name sorts
// after it: so the queued RENAME waits on the table itself, where it has priority over the
// application's queued writes once the lock is released. A sentry named _<table>_old would sort
// first; the RENAME would wait on the sentry instead, and after the sentry is dropped a write
// could take the table before the RENAME re-queued, landing in the old table after the drain.
constexpr std::string_view kSwapSuffix = "_sluice_old";
// The shadow table's name extends the table's name for the same reason. The RENAME locks the
// table first, then the shadow: with a shadow named _<table>_new the RENAME would lock the
// shadow first, and MariaDB's purge holds metadata locks on a table whose rows were deleted (the
// applier deletes in the shadow). The RENAME then waited on the shadow, looked queued, and writes
// took the table in the meantime: writes lost at cut-over, caught by the re-copy test.
constexpr std::string_view kShadowSuffix = "_sluice_new";
// The empty temporary copy on which a plan tries the ALTER (validation_ddl).
constexpr std::string_view kCheckSuffix = "_sluice_chk";
// The comment that tells a cut-over sentry from a table someone else named <table>_sluice_old.
constexpr std::string_view kSentryComment = "sluice cut-over sentry";

// The longest table name that leaves room for kSwapSuffix within MySQL's 64 characters.
constexpr std::size_t kMaxTableName = 64 - kSwapSuffix.size();

// <table>_sluice_old, <table>_sluice_new and _<table>_old (where the old table is kept after the
// swap), in the table's schema.
ddl::QualifiedName swap_name(const ddl::QualifiedName& table);
ddl::QualifiedName shadow_name(const ddl::QualifiedName& table);
ddl::QualifiedName old_name(const ddl::QualifiedName& table, const std::string& suffix);

// The columns of `source` the copy carries over, by index in table order: every column that is
// neither generated nor in `dropped` (the ALTER's DROP COLUMNs, matched case-insensitively as
// MySQL matches column names).
std::vector<std::size_t> mapped_columns(const TableSchema& source,
                                        const std::vector<std::string>& dropped);

// SELECT `what` FROM information_schema.TABLES for one table, whose schema and name come as
// string literals quoted by the session (Session::quote_literal).
std::string table_row_sql(std::string_view what, const std::string& schema_literal,
                          const std::string& name_literal);

// CREATE TABLE <shadow> LIKE <table>, then ALTER TABLE <shadow> with the ALTER's clauses.
std::vector<std::string> shadow_ddl(const MysqlTablePlan& plan,
                                    const std::vector<std::string>& clauses);

// The plain secondary indexes (non-unique, not FULLTEXT or SPATIAL) of a SHOW CREATE TABLE text,
// each as it follows ADD in an ALTER ("KEY `k_1` (`k`) COMMENT 'x'"), in table order: what the
// shadow holds back during the copy and builds after it, sorted, in one pass.
std::vector<std::string> plain_indexes(std::string_view create_table);

// While the shadow holds indexes back, its table comment records them and the comment to give
// back, so that a resumed run knows what the killed one still had to build. MariaDB keeps table
// comments up to 2048 characters; longer records are not made (the indexes then stay).
struct HeldBackIndexes {
  std::vector<std::string> indexes;  // plain_indexes() definitions
  std::string comment;               // the shadow's own table comment
};
constexpr std::size_t kMaxTableComment = 2048;
std::string held_back_comment(const HeldBackIndexes& held);
// nullopt for a comment held_back_comment() did not make.
std::optional<HeldBackIndexes> parse_held_back_comment(const std::string& comment);

// ALTER TABLE <table> DROP INDEX …, one per definition of plain_indexes(), COMMENT = <literal>
// (held_back_comment(), quoted by the session): both take effect or neither.
std::string drop_indexes_sql(const ddl::QualifiedName& table,
                             const std::vector<std::string>& definitions,
                             const std::string& comment_literal);

// ALTER TABLE <table> ADD <definition>, …, COMMENT = <literal>, ALGORITHM=INPLACE, LOCK=NONE: one
// online build of every index, which InnoDB sorts and writes in bulk, giving the table its own
// comment back in the same atomic statement.
std::string add_indexes_sql(const ddl::QualifiedName& table,
                            const std::vector<std::string>& definitions,
                            const std::string& comment_literal);

// CREATE TEMPORARY TABLE <table>_sluice_chk LIKE <table>, then the ALTER on it: a dry run tries
// the ALTER on an empty copy that only its session sees, so a change the server refuses is
// refused before anything is created or recorded. The last statement drops the copy.
std::vector<std::string> validation_ddl(const ddl::QualifiedName& table,
                                        const std::vector<std::string>& clauses);

// ALTER TABLE <table> <clauses>, ALGORITHM=INSTANT: refused (not queued) by a server that would
// have to copy.
std::string instant_alter_sql(const ddl::QualifiedName& table,
                              const std::vector<std::string>& clauses);

// DROP TABLE [IF EXISTS] <name>.
std::string drop_table_sql(const ddl::QualifiedName& name, bool if_exists = false);

// RENAME TABLE <from> TO <to>.
std::string rename_table_sql(const ddl::QualifiedName& from, const ddl::QualifiedName& to);

// Whether a column default, as information_schema.COLUMNS.COLUMN_DEFAULT prints it, is one of
// the time functions whose value is fixed for a whole statement ("current_timestamp()",
// "current_timestamp(6)", "now()", "curdate()", "CURRENT_TIMESTAMP", ...). The server's own
// ALTER gives every existing row one value of such a default; literals are one value anyway and
// other expressions (RAND(), UUID()) are evaluated per row.
bool is_statement_time_default(std::string_view column_default);

// The shadow's columns (name, COLUMN_DEFAULT) that have a default, in table order; `schema` and
// `name` are string literals.
std::string column_defaults_sql(const std::string& schema, const std::string& name);

// SELECT CAST(expression AS CHAR): the default's value now, as text.
std::string evaluate_sql(const std::string& expression);

// The column's value in some row of `table`, as text; no row when the table is empty.
std::string any_value_sql(const ddl::QualifiedName& table, const std::string& column);

}  // namespace sluice::mysql

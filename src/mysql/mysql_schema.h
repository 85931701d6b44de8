#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/dsn.h"
#include "src/mysql/mysql_connection.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// The table the user named with --table: `name` (in the DSN's database) or `database.name`,
// either part quoted with backticks. Throws Error(ExitCode::usage) for a malformed name or when
// neither names a database.
ddl::QualifiedName resolve_table_name(const Dsn& dsn, const std::string& table);

// The unique key a copy can walk: the PRIMARY KEY, else the UNIQUE key with all columns NOT NULL
// and the fewest columns. Column names in key order.
struct ChosenKey {
  std::string name;
  std::vector<std::string> columns;
};

std::optional<ChosenKey> choose_key(Connection& connection, const ddl::QualifiedName& table);

// Every PRIMARY and UNIQUE key of `table`: its columns in key order, and whether one of them
// is nullable, by index name.
struct UniqueKey {
  std::vector<std::string> columns;
  bool nullable = false;
};
std::map<std::string, UniqueKey> unique_keys(Connection& connection,
                                             const ddl::QualifiedName& table);

// Reads columns and the chosen key from information_schema. Throws Error(ExitCode::not_found)
// when the table does not exist. `key_columns` stays empty when the table has no usable key.
TableSchema describe_table(Connection& connection, const ddl::QualifiedName& table);

// The table's SHOW CREATE TABLE as comparable_definition (mysql_cut_over_sql.h) keeps it.
std::string read_definition(Connection& connection, const ddl::QualifiedName& table);

}  // namespace sluice::mysql

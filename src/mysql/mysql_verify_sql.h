#pragma once

#include <string>

#include "ddl/identifier.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// The SQL text of the verify role (MysqlVerify): pure, no connection, unit tested in
// tests/mysql_verify_sql_test.cpp. `where` arguments are range predicates over the key
// (range_predicate in mysql_sql.h).

// `expression` cast to the type of `shadow_column` when the ALTER changed the column's type,
// so equal values print equally on both sides (1.5 in DECIMAL(10,1) and DECIMAL(12,3)).
std::string checksum_cast(const std::string& expression, const ColumnInfo& shadow_column);

// COUNT(*) and the BIT_XOR of per-row CRC32s over the mapped columns of `table` (the source or
// the shadow) for the rows matching `where`. Columns whose type or character set the ALTER
// changed are cast (checksum_cast) on both sides; plan.shadow_schema must be filled.
std::string checksum_query(const MysqlTablePlan& plan, const ddl::QualifiedName& table,
                           const std::string& where);

// A predicate over the source: the row's key is in the shadow's rows matching `where`.
std::string kept_rows(const MysqlTablePlan& plan, const std::string& where);

// COUNT(*) of the source's rows (aliased `s`) matching `where` that are missing from the
// shadow: rows a new UNIQUE key discarded, or lost ones.
std::string missing_rows_sql(const MysqlTablePlan& plan, const std::string& where);

// COUNT(*) of the missing rows that duplicate no shadow row in any of plan.added_unique_keys:
// rows that no UNIQUE key explains, so lost. plan.added_unique_keys must not be empty.
std::string unexplained_rows_sql(const MysqlTablePlan& plan, const std::string& where);

}  // namespace sluice::mysql

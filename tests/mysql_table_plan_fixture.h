#pragma once

#include "replication/change_event.h"
#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_table_plan.h"

namespace sluice::mysql::testing {

inline ColumnInfo column(const char* name, const char* data_type, const char* column_type,
                         const char* charset = "", bool generated = false) {
  return ColumnInfo{name, data_type, column_type, charset, true, generated};
}

// shop.orders (id BIGINT PRIMARY KEY, total DECIMAL(10,1), note VARCHAR utf8mb4, legacy INT,
// doubled INT AS (…)), altered to widen `total` to DECIMAL(12,3) and drop `legacy`: `doubled`
// is generated and `legacy` dropped, so the copy maps id, total and note.
inline MysqlTablePlan orders_plan() {
  MysqlTablePlan plan;
  plan.source.name = {"shop", "orders"};
  plan.source.columns = {
      column("id", "bigint", "bigint(20)"), column("total", "decimal", "decimal(10,1)"),
      column("note", "varchar", "varchar(20)", "utf8mb4"), column("legacy", "int", "int(11)"),
      column("doubled", "int", "int(11)", "", true)};
  plan.source.key_name = "PRIMARY";
  plan.source.key_columns = {0};
  plan.mapped_columns = {0, 1, 2};
  plan.shadow = shadow_name(plan.source.name);
  plan.swap = swap_name(plan.source.name);
  plan.old = old_name(plan.source.name, "_old");
  plan.shadow_schema.name = plan.shadow;
  plan.shadow_schema.columns = {column("id", "bigint", "bigint(20)"),
                                column("total", "decimal", "decimal(12,3)"),
                                column("note", "varchar", "varchar(20)", "utf8mb4"),
                                column("doubled", "int", "int(11)", "", true)};
  plan.shadow_schema.key_name = "PRIMARY";
  plan.shadow_schema.key_columns = {0};
  return plan;
}

inline replication::Value number(const char* text) {
  return replication::Value{replication::ValueKind::number, text};
}

}  // namespace sluice::mysql::testing

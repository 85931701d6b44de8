#include "src/mysql/mysql_verify_sql.h"

#include <algorithm>
#include <vector>

#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

// The "(n)" or "(p,s)" after a type's name in its full text, or nothing.
std::string type_arguments(const std::string& column_type) {
  const std::size_t open = column_type.find('(');
  if (open == std::string::npos) {
    return "";
  }
  const std::size_t close = column_type.find(')');
  return column_type.substr(open, close - open + 1);
}

}  // namespace

std::string checksum_cast(const std::string& expression, const ColumnInfo& shadow_column) {
  const std::string& type = shadow_column.data_type;
  static const std::vector<std::string> integers = {"tinyint", "smallint", "mediumint", "int",
                                                    "integer", "bigint",   "year"};
  if (std::find(integers.begin(), integers.end(), type) != integers.end()) {
    const bool is_unsigned = shadow_column.column_type.find("unsigned") != std::string::npos;
    return "CAST(" + expression + (is_unsigned ? " AS UNSIGNED)" : " AS SIGNED)");
  }
  if (type == "decimal" || type == "numeric") {
    return "CAST(" + expression + " AS DECIMAL" + type_arguments(shadow_column.column_type) + ")";
  }
  if (type == "float" || type == "double" || type == "real") {
    return "CAST(" + expression + " AS DOUBLE)";
  }
  if (type == "date") {
    return "CAST(" + expression + " AS DATE)";
  }
  if (type == "datetime" || type == "timestamp" || type == "time") {
    const std::string& full = shadow_column.column_type;
    const std::size_t open = full.find('(');
    const std::string fraction = open == std::string::npos ? "" : full.substr(open);
    return "CAST(" + expression + (type == "time" ? " AS TIME" : " AS DATETIME") + fraction + ")";
  }
  if (type == "bit") {
    return "CAST(" + expression + " AS UNSIGNED)";
  }
  const replication::ValueKind kind = value_kind(shadow_column);
  if (kind == replication::ValueKind::binary) {
    return "CAST(" + expression + " AS BINARY)";
  }
  if (kind == replication::ValueKind::text && !shadow_column.charset.empty()) {
    return "CONVERT(" + expression + " USING " + shadow_column.charset + ")";
  }
  return expression;
}

std::string checksum_query(const MysqlTablePlan& plan, const ddl::QualifiedName& table,
                           const std::string& where) {
  std::string values;
  for (std::size_t column : plan.mapped_columns) {
    const ColumnInfo& source_column = plan.source.columns[column];
    const ColumnInfo& shadow_column =
        plan.shadow_schema.columns[*plan.shadow_schema.find(source_column.name)];
    std::string expression = quote(source_column.name);
    if (source_column.column_type != shadow_column.column_type ||
        source_column.charset != shadow_column.charset) {
      expression = checksum_cast(expression, shadow_column);
    }
    // ISNULL() marks NULLs, which CONCAT_WS would otherwise skip without a trace. A column NOT
    // NULL in both tables needs no mark (a quarter of the checksum's cost on narrow rows); one
    // nullable on either side keeps it on both, so the two sides hash alike.
    if (source_column.nullable || shadow_column.nullable) {
      values += ", ISNULL(" + quote(source_column.name) + ")";
    }
    values += ", " + expression;
  }
  return "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#'" + values + "))), 0) FROM " +
         quote(table) + " WHERE " + where;
}

std::string kept_rows(const MysqlTablePlan& plan, const std::string& where) {
  const std::string key = column_list(plan.source, plan.source.key_columns);
  return key + " IN (SELECT " + key + " FROM " + quote(plan.shadow) + " WHERE " + where + ")";
}

std::string missing_rows_sql(const MysqlTablePlan& plan, const std::string& where) {
  return "SELECT COUNT(*) FROM " + quote(plan.source.name) + " AS s WHERE " + where + " AND NOT " +
         kept_rows(plan, where);
}

std::string unexplained_rows_sql(const MysqlTablePlan& plan, const std::string& where) {
  // A row may only be missing because the shadow holds another row with its values in one of
  // the new unique keys.
  std::string duplicated;
  for (const std::vector<std::string>& columns : plan.added_unique_keys) {
    std::string same;
    for (const std::string& column : columns) {
      same += (same.empty() ? "" : " AND ") + ("h." + quote(column)) + " = s." + quote(column);
    }
    duplicated += (duplicated.empty() ? "" : " OR ") + std::string("EXISTS (SELECT 1 FROM ") +
                  quote(plan.shadow) + " AS h WHERE " + same + ")";
  }
  return missing_rows_sql(plan, where) + " AND NOT (" + duplicated + ")";
}

}  // namespace sluice::mysql

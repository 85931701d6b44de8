#include "src/postgres/pg_apply_sql.h"

#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {

std::string batch_rows(const std::vector<PgColumn>& columns) {
  std::string arrays;
  std::string typed;
  std::string aliases;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const std::string alias = "c" + std::to_string(i);
    const std::string separator = i > 0 ? ", " : "";
    arrays += separator + "$" + std::to_string(i + 1) + "::text[]";
    typed +=
        separator + "CAST(u." + alias + " AS " + columns[i].source_type + ") AS " + columns[i].name;
    aliases += separator + alias;
  }
  return "SELECT " + column_values(columns) + " FROM (SELECT " + typed + " FROM unnest(" + arrays +
         ") AS u (" + aliases + ")) AS s";
}

std::string single_row(const std::vector<PgColumn>& columns, const std::vector<bool>& from_shadow) {
  std::string select;
  std::string values;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const std::string separator = i > 0 ? ", " : "";
    const PgColumn& column = columns[i];
    select += separator + (from_shadow[i] ? column.name : column.value);
    values += separator + "$" + std::to_string(i + 1) +
              "::" + (from_shadow[i] ? column.shadow_type : column.source_type);
  }
  return "SELECT " + select + " FROM (VALUES (" + values + ")) AS s (" + column_names(columns) +
         ")";
}

std::string insert_rows_into(const PgTablePlan& plan, const std::string& rows) {
  const std::string into = "INSERT INTO " + plan.quoted_shadow + " (" + column_names(plan.columns) +
                           filled_names(plan.filled) + ") OVERRIDING SYSTEM VALUE ";
  if (plan.filled.empty()) {
    return into + rows;
  }
  return into + "SELECT r.*" + filled_values(plan.filled) + " FROM (" + rows + ") AS r";
}

std::string delete_unique_matches(const PgTablePlan& plan, const std::string& rows,
                                  const std::vector<std::string>& unique_columns) {
  std::string match;
  for (const std::string& column : unique_columns) {
    match += (match.empty() ? "" : " AND ") + std::string("t.") + column + " = n." + column;
  }
  return "DELETE FROM " + plan.quoted_shadow + " AS t USING (" + rows + ") AS n (" +
         column_names(plan.columns) + ") WHERE " + match;
}

std::string select_by_keys(const PgTablePlan& plan, bool shadow) {
  std::string columns;
  for (const PgColumn& column : plan.columns) {
    columns += ", t." + column.name;
  }
  std::string arrays;
  std::string aliases;
  std::string row;
  std::string keys;
  for (std::size_t i = 0; i < plan.key.size(); ++i) {
    const std::string separator = i > 0 ? ", " : "";
    const PgColumn& column = plan.columns[plan.key_in_mapped[i]];
    const std::string alias = "k" + std::to_string(i);
    arrays += separator + "$" + std::to_string(i + 1) + "::text[]";
    aliases += separator + alias;
    row += separator + "t." + plan.key[i];
    keys += separator + "CAST(k." + alias + " AS " +
            (shadow ? column.shadow_type : column.source_type) + ")";
  }
  if (plan.key.size() > 1) {
    row = "(" + row + ")";
    keys = "(" + keys + ")";
  }
  return "SELECT k.ord" + columns + " FROM " + (shadow ? plan.quoted_shadow : plan.quoted_table) +
         " AS t JOIN unnest(" + arrays + ") WITH ORDINALITY AS k (" + aliases + ", ord) ON " + row +
         " = " + keys;
}

std::string delete_keys(const PgTablePlan& plan, std::size_t keys) {
  if (plan.key.size() == 1) {
    return "DELETE FROM " + plan.quoted_shadow + " WHERE " + plan.key.front() +
           " = ANY(CAST($1::text[] AS " + plan.columns[plan.key_in_mapped.front()].shadow_type +
           "[]))";
  }
  return "DELETE FROM " + plan.quoted_shadow + " WHERE " + key_in(plan.key, keys, 1);
}

}  // namespace sluice::postgres

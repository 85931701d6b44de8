#include "src/mysql/mysql_shadow_sql.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

std::string joined(const std::vector<std::string>& clauses) {
  std::string out;
  for (const std::string& clause : clauses) {
    out += (out.empty() ? "" : ", ") + clause;
  }
  return out;
}

}  // namespace

ddl::QualifiedName swap_name(const ddl::QualifiedName& table) {
  return {table.schema, table.name + std::string(kSwapSuffix)};
}

ddl::QualifiedName shadow_name(const ddl::QualifiedName& table) {
  return {table.schema, table.name + std::string(kShadowSuffix)};
}

ddl::QualifiedName old_name(const ddl::QualifiedName& table, const std::string& suffix) {
  return {table.schema, "_" + table.name + suffix};
}

std::vector<std::size_t> mapped_columns(const TableSchema& source,
                                        const std::vector<std::string>& dropped) {
  std::vector<std::string> dropped_lower;
  for (const std::string& column : dropped) {
    dropped_lower.push_back(ascii_lower(column));
  }
  std::vector<std::size_t> mapped;
  for (std::size_t i = 0; i < source.columns.size(); ++i) {
    const ColumnInfo& column = source.columns[i];
    const bool is_dropped = std::find(dropped_lower.begin(), dropped_lower.end(),
                                      ascii_lower(column.name)) != dropped_lower.end();
    if (!column.generated && !is_dropped) {
      mapped.push_back(i);
    }
  }
  return mapped;
}

std::string table_row_sql(std::string_view what, const std::string& schema_literal,
                          const std::string& name_literal) {
  return "SELECT " + std::string(what) +
         " FROM information_schema.TABLES WHERE TABLE_SCHEMA = " + schema_literal +
         " AND TABLE_NAME = " + name_literal;
}

std::vector<std::string> shadow_ddl(const MysqlTablePlan& plan,
                                    const std::vector<std::string>& clauses) {
  return {"CREATE TABLE " + quote(plan.shadow) + " LIKE " + quote(plan.source.name),
          "ALTER TABLE " + quote(plan.shadow) + " " + joined(clauses)};
}

std::vector<std::string> plain_indexes(std::string_view create_table) {
  std::vector<std::string> definitions;
  std::size_t start = 0;
  while (start < create_table.size()) {
    std::size_t end = create_table.find('\n', start);
    if (end == std::string_view::npos) {
      end = create_table.size();
    }
    std::string_view line = create_table.substr(start, end - start);
    start = end + 1;
    // SHOW CREATE TABLE puts each index on a line of its own, indented by two spaces; UNIQUE,
    // FULLTEXT, SPATIAL and PRIMARY keys start with their own word.
    if (!line.starts_with("  KEY `")) {
      continue;
    }
    line.remove_prefix(2);
    if (line.ends_with(",")) {
      line.remove_suffix(1);
    }
    definitions.emplace_back(line);
  }
  return definitions;
}

namespace {

// Starts the shadow's table comment while it holds indexes back (held_back_comment()).
constexpr std::string_view kHeldBackMarker = "sluice: indexes held back during the copy ";

// The quoted name of a plain_indexes() definition ("KEY `a``b` (…)" -> "`a``b`").
std::string index_name(const std::string& definition) {
  std::size_t end = 5;  // past "KEY `"
  while (end < definition.size()) {
    if (definition[end] == '`') {
      if (end + 1 < definition.size() && definition[end + 1] == '`') {
        end += 2;
        continue;
      }
      break;
    }
    ++end;
  }
  return definition.substr(4, end - 3);
}

}  // namespace

std::string held_back_comment(const HeldBackIndexes& held) {
  return std::string(kHeldBackMarker) +
         nlohmann::json{{"indexes", held.indexes}, {"comment", held.comment}}.dump();
}

std::optional<HeldBackIndexes> parse_held_back_comment(const std::string& comment) {
  if (!comment.starts_with(kHeldBackMarker)) {
    return std::nullopt;
  }
  const nlohmann::json parsed =
      nlohmann::json::parse(comment.substr(kHeldBackMarker.size()), nullptr, false);
  if (!parsed.is_object() || !parsed.contains("indexes") || !parsed["indexes"].is_array() ||
      !parsed.contains("comment") || !parsed["comment"].is_string()) {
    return std::nullopt;
  }
  HeldBackIndexes held;
  for (const nlohmann::json& index : parsed["indexes"]) {
    if (!index.is_string()) {
      return std::nullopt;
    }
    held.indexes.push_back(index.get<std::string>());
  }
  held.comment = parsed["comment"].get<std::string>();
  return held;
}

std::string drop_indexes_sql(const ddl::QualifiedName& table,
                             const std::vector<std::string>& definitions,
                             const std::string& comment_literal) {
  std::vector<std::string> clauses;
  for (const std::string& definition : definitions) {
    clauses.push_back("DROP INDEX " + index_name(definition));
  }
  return "ALTER TABLE " + quote(table) + " " + joined(clauses) + ", COMMENT = " + comment_literal;
}

std::string add_indexes_sql(const ddl::QualifiedName& table,
                            const std::vector<std::string>& definitions,
                            const std::string& comment_literal) {
  std::vector<std::string> clauses;
  for (const std::string& definition : definitions) {
    clauses.push_back("ADD " + definition);
  }
  return "ALTER TABLE " + quote(table) + " " + joined(clauses) + ", COMMENT = " + comment_literal +
         ", ALGORITHM=INPLACE, LOCK=NONE";
}

std::vector<std::string> validation_ddl(const ddl::QualifiedName& table,
                                        const std::vector<std::string>& clauses) {
  const std::string copy =
      quote(ddl::QualifiedName{table.schema, table.name + std::string(kCheckSuffix)});
  return {"CREATE TEMPORARY TABLE " + copy + " LIKE " + quote(table),
          "ALTER TABLE " + copy + " " + joined(clauses), "DROP TEMPORARY TABLE IF EXISTS " + copy};
}

std::string instant_alter_sql(const ddl::QualifiedName& table,
                              const std::vector<std::string>& clauses) {
  std::string list;
  for (const std::string& clause : clauses) {
    list += clause + ", ";
  }
  return "ALTER TABLE " + quote(table) + " " + list + "ALGORITHM=INSTANT";
}

std::string drop_table_sql(const ddl::QualifiedName& name, bool if_exists) {
  return std::string(if_exists ? "DROP TABLE IF EXISTS " : "DROP TABLE ") + quote(name);
}

std::string rename_table_sql(const ddl::QualifiedName& from, const ddl::QualifiedName& to) {
  return "RENAME TABLE " + quote(from) + " TO " + quote(to);
}

bool is_statement_time_default(std::string_view column_default) {
  static const std::regex kTimeFunction(
      "(current_timestamp|now|localtime|localtimestamp|curdate|current_date|curtime|current_time|"
      "utc_timestamp|utc_date|utc_time)(\\([0-6]?\\))?",
      std::regex::icase);
  return std::regex_match(column_default.begin(), column_default.end(), kTimeFunction);
}

std::string column_defaults_sql(const std::string& schema, const std::string& name) {
  return "SELECT COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA "
         "= " +
         schema + " AND TABLE_NAME = " + name +
         " AND COLUMN_DEFAULT IS NOT NULL ORDER BY ORDINAL_POSITION";
}

std::string evaluate_sql(const std::string& expression) {
  return "SELECT CAST(" + expression + " AS CHAR)";
}

std::string any_value_sql(const ddl::QualifiedName& table, const std::string& column) {
  return "SELECT CAST(" + quote(column) + " AS CHAR) FROM " + quote(table) + " LIMIT 1";
}

}  // namespace sluice::mysql

#include "src/mysql/mysql_copy_sql.h"

#include <algorithm>
#include <set>

#include "src/error.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

// FROM the source read through its key's index, so the server walks the key the chunks are
// cut on whatever its statistics say.
std::string from_source(const TableSchema& source) {
  return " FROM " + quote(source.name) + " FORCE INDEX (" + quote(source.key_name) + ")";
}

// SELECT of the key columns FROM the source after `after`, to be ordered by the caller.
std::string key_walk(const TableSchema& source, const std::optional<replication::Row>& after) {
  std::string select;
  for (std::size_t column : source.key_columns) {
    select += (select.empty() ? "" : ", ") + key_select_expression(source.columns[column]);
  }
  return "SELECT " + select + from_source(source) +
         (after ? " WHERE " + key_after(source, *after) : "");
}

std::string key_order(const TableSchema& source, const char* direction) {
  std::string order;
  for (std::size_t column : source.key_columns) {
    order += (order.empty() ? "" : ", ") + quote(source.columns[column].name) + direction;
  }
  return " ORDER BY " + order;
}

// Key values of every integer width, signed or unsigned, fit in 128 bits with room for the span.
__int128 parse_integer(const std::string& text) {
  __int128 value = 0;
  const bool negative = !text.empty() && text.front() == '-';
  for (std::size_t i = negative ? 1 : 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      throw Error(ExitCode::failure, "the server returned a malformed integer key: " + text);
    }
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

std::string integer_text(__int128 value) {
  if (value == 0) {
    return "0";
  }
  const bool negative = value < 0;
  std::string digits;
  for (__int128 rest = negative ? -value : value; rest > 0; rest /= 10) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(rest % 10)));
  }
  return negative ? "-" + digits : digits;
}

}  // namespace

std::string copy_statement(const MysqlTablePlan& plan, const std::string& where,
                           std::string_view verb) {
  const std::string columns = column_names(plan.source, plan.mapped_columns);
  std::string filled_names;
  std::string filled_values;
  for (const FilledColumn& column : plan.filled) {
    filled_names += ", " + quote(column.name);
    filled_values += ", " + column.value;
  }
  return std::string(verb) + " INTO " + quote(plan.shadow) + " (" + columns + filled_names +
         ") SELECT " + columns + filled_values + from_source(plan.source) + " WHERE " + where;
}

std::string delete_range_sql(const MysqlTablePlan& plan, const std::string& where) {
  return "DELETE FROM " + quote(plan.shadow) + " WHERE " + where;
}

std::string chunk_end_sql(const TableSchema& source, const std::optional<replication::Row>& after,
                          std::uint64_t rows) {
  return key_walk(source, after) + key_order(source, "") + " LIMIT 1 OFFSET " +
         std::to_string(rows - 1);
}

std::string last_key_sql(const TableSchema& source, const std::optional<replication::Row>& after) {
  return key_walk(source, after) + key_order(source, " DESC") + " LIMIT 1";
}

std::optional<std::uint64_t> records_read(std::string_view info) {
  constexpr std::string_view kRecords = "Records: ";
  const std::size_t at = info.find(kRecords);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::uint64_t records = 0;
  bool digits = false;
  for (std::size_t i = at + kRecords.size(); i < info.size() && info[i] >= '0' && info[i] <= '9';
       ++i) {
    records = records * 10 + static_cast<std::uint64_t>(info[i] - '0');
    digits = true;
  }
  return digits ? std::optional<std::uint64_t>(records) : std::nullopt;
}

bool has_integer_key(const TableSchema& source) {
  static const std::set<std::string> integers = {"tinyint", "smallint", "mediumint",
                                                 "int",     "integer",  "bigint"};
  return source.key_columns.size() == 1 &&
         integers.contains(source.columns[source.key_columns.front()].data_type);
}

std::string key_bound_sql(const TableSchema& source, std::string_view function) {
  return "SELECT " + std::string(function) + "(" +
         quote(source.columns[source.key_columns.front()].name) + ") FROM " + quote(source.name);
}

std::string next_integer_key_sql(const TableSchema& source, const std::string& low) {
  const std::string key = quote(source.columns[source.key_columns.front()].name);
  return "SELECT MIN(" + key + ") FROM " + quote(source.name) + " WHERE " + key + " > " +
         integer_text(parse_integer(low));
}

std::optional<std::string> integer_chunk_end(const std::string& low, const std::string& high,
                                             const std::string& next, std::uint64_t rows) {
  const __int128 from = parse_integer(low);
  const __int128 last = parse_integer(high);
  if (from >= last) {
    return std::nullopt;
  }
  const __int128 span = std::max(from + static_cast<__int128>(rows), parse_integer(next));
  return integer_text(std::min(last, span));
}

std::string integer_before(const std::string& value) {
  return integer_text(parse_integer(value) - 1);
}

}  // namespace sluice::mysql

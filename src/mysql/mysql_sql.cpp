#include "src/mysql/mysql_sql.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "src/error.h"

namespace sluice::mysql {
namespace {

using replication::Row;
using replication::Value;
using replication::ValueKind;

constexpr const char* kHex = "0123456789ABCDEF";

std::string hex(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

std::string unhex(const std::string& text) {
  if (text.size() % 2 != 0) {
    throw Error(ExitCode::failure, "the server returned malformed HEX() text");
  }
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_digit(text[i]);
    const int low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) {
      throw Error(ExitCode::failure, "the server returned malformed HEX() text");
    }
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

bool only_chars(const std::string& text, std::string_view allowed) {
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return allowed.find(c) != std::string_view::npos; });
}

std::string quoted_column(const ColumnInfo& column) {
  return ddl::quote_identifier(ddl::Dialect::mysql, column.name);
}

// Lexicographic comparison over the key columns, expanded into ORs so every branch is an
// index range: for `>`: a > x OR (a = x AND b > y); the last column uses `last_op`.
std::string key_compare(const TableSchema& schema, const Row& key, const char* last_op) {
  std::string out = "(";
  for (std::size_t i = 0; i < schema.key_columns.size(); ++i) {
    if (i > 0) {
      out += " OR ";
    }
    out += "(";
    for (std::size_t j = 0; j <= i; ++j) {
      const ColumnInfo& column = schema.columns[schema.key_columns[j]];
      const bool last = j == i;
      const bool final_column = i + 1 == schema.key_columns.size();
      const char* op =
          !last ? " = " : (final_column ? last_op : (last_op[1] == '>' ? " > " : " < "));
      if (j > 0) {
        out += " AND ";
      }
      out += quoted_column(column) + op + sql_literal(key[j], column);
    }
    out += ")";
  }
  return out + ")";
}

}  // namespace

std::string ascii_upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::string ascii_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::mysql, name);
}

std::string quote(const ddl::QualifiedName& name) {
  return ddl::quote_qualified(ddl::Dialect::mysql, name);
}

ValueKind value_kind(const ColumnInfo& column) {
  static const std::set<std::string> numbers = {"tinyint", "smallint", "mediumint", "int",
                                                "integer", "bigint",   "decimal",   "numeric",
                                                "float",   "double",   "real",      "year"};
  static const std::set<std::string> binaries = {
      "binary",   "varbinary",  "tinyblob",        "blob",         "mediumblob",
      "longblob", "bit",        "geometry",        "point",        "linestring",
      "polygon",  "multipoint", "multilinestring", "multipolygon", "geometrycollection"};
  static const std::set<std::string> temporals = {"date", "datetime", "timestamp", "time"};
  if (numbers.contains(column.data_type)) {
    return ValueKind::number;
  }
  if (binaries.contains(column.data_type)) {
    return ValueKind::binary;
  }
  if (temporals.contains(column.data_type)) {
    return ValueKind::temporal;
  }
  if (column.data_type == "json") {
    return ValueKind::json;
  }
  return ValueKind::text;
}

std::string sql_literal(const Value& value, const ColumnInfo& target) {
  switch (value.kind) {
    case ValueKind::null:
      return "NULL";
    case ValueKind::unchanged:
      throw Error(ExitCode::failure, "an unchanged-TOAST marker cannot be written to MySQL");
    case ValueKind::number:
      if (value.text.empty() || !only_chars(value.text, "0123456789.-+eE")) {
        throw Error(ExitCode::failure, "a change event carries a malformed number for column " +
                                           quoted_column(target));
      }
      return value.text;
    case ValueKind::temporal:
      if (!only_chars(value.text, "0123456789-: .")) {
        throw Error(ExitCode::failure, "a change event carries a malformed date/time for column " +
                                           quoted_column(target));
      }
      return "'" + value.text + "'";
    case ValueKind::binary:
      return "X'" + hex(value.text) + "'";
    case ValueKind::text:
    case ValueKind::json: {
      const std::string charset = target.charset.empty() ? "utf8mb4" : target.charset;
      if (!only_chars(charset, "abcdefghijklmnopqrstuvwxyz0123456789_")) {
        throw Error(ExitCode::failure, "unexpected character set name " + charset);
      }
      return "_" + charset + " X'" + hex(value.text) + "'";
    }
  }
  throw Error(ExitCode::failure, "unknown value kind");
}

std::string column_names(const TableSchema& schema, const std::vector<std::size_t>& columns) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    out += (i > 0 ? ", " : "") + quoted_column(schema.columns[columns[i]]);
  }
  return out;
}

std::string column_list(const TableSchema& schema, const std::vector<std::size_t>& columns) {
  return "(" + column_names(schema, columns) + ")";
}

std::string key_after(const TableSchema& schema, const Row& key) {
  return key_compare(schema, key, " > ");
}

std::string key_up_to(const TableSchema& schema, const Row& key) {
  return key_compare(schema, key, " <= ");
}

std::string range_predicate(const TableSchema& schema, const std::optional<Row>& after,
                            const std::optional<Row>& up_to) {
  if (after && up_to) {
    return key_after(schema, *after) + " AND " + key_up_to(schema, *up_to);
  }
  if (after) {
    return key_after(schema, *after);
  }
  return up_to ? key_up_to(schema, *up_to) : "TRUE";
}

std::string key_in(const TableSchema& schema, const std::vector<Row>& keys) {
  std::string out = column_list(schema, schema.key_columns) + " IN (";
  for (std::size_t k = 0; k < keys.size(); ++k) {
    out += k > 0 ? ", (" : "(";
    for (std::size_t i = 0; i < schema.key_columns.size(); ++i) {
      out += (i > 0 ? ", " : "") + sql_literal(keys[k][i], schema.columns[schema.key_columns[i]]);
    }
    out += ")";
  }
  return out + ")";
}

namespace {

bool read_as_hex(ValueKind kind) {
  return kind == ValueKind::binary || kind == ValueKind::text;
}

}  // namespace

std::string key_select_expression(const ColumnInfo& column) {
  return read_as_hex(value_kind(column)) ? "HEX(" + quoted_column(column) + ")"
                                         : quoted_column(column);
}

Value key_value_from_text(const ColumnInfo& column, const std::string& text) {
  const ValueKind kind = value_kind(column);
  return Value{kind, read_as_hex(kind) ? unhex(text) : text};
}

long lock_wait_seconds(std::chrono::milliseconds timeout) {
  return std::max<long>(1, static_cast<long>((timeout.count() + 999) / 1000));
}

std::string lock_wait_timeout_sql(long seconds) {
  return "SET SESSION lock_wait_timeout = " + std::to_string(seconds);
}

std::string lock_tables_statement(const std::vector<TableLockRequest>& tables) {
  std::string lock;
  for (const TableLockRequest& request : tables) {
    lock += (lock.empty() ? "LOCK TABLES " : ", ") +
            ddl::quote_qualified(ddl::Dialect::mysql, request.table) +
            (request.mode == LockMode::block_writes ? " READ" : " WRITE");
  }
  return lock;
}

std::vector<std::string> lock_tables_sql(const std::vector<TableLockRequest>& tables,
                                         std::chrono::milliseconds timeout) {
  return {lock_wait_timeout_sql(lock_wait_seconds(timeout)), lock_tables_statement(tables)};
}

}  // namespace sluice::mysql

#include "src/postgres/pg_rebuild_sql.h"

#include <algorithm>

#include "ddl/sql_tokenizer.h"

namespace sluice::postgres {
namespace {

using ddl::Dialect;
using ddl::is_keyword;
using ddl::Token;

std::string param(std::size_t number) {
  return "$" + std::to_string(number);
}

std::string tuple(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return items.size() == 1 ? out : "(" + out + ")";
}

std::vector<std::string> params(std::size_t count, std::size_t first) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(param(first + i));
  }
  return out;
}

std::string lock_table(const TableLockRequest& request) {
  return "LOCK TABLE " + ident(request.table) +
         (request.mode == LockMode::block_writes ? " IN SHARE MODE" : " IN ACCESS EXCLUSIVE MODE");
}

}  // namespace

std::string ident(const std::string& name) {
  return ddl::quote_identifier(Dialect::postgres, name);
}

std::string ident(const ddl::QualifiedName& name) {
  return ddl::quote_qualified(Dialect::postgres, name);
}

std::string derived_name(const std::string& name, const std::string& suffix) {
  return ("_" + name).substr(0, 63 - suffix.size()) + suffix;
}

std::string slot_name(const std::string& table_oid) {
  return "alter_" + table_oid;
}

std::string revert_slot_name(const std::string& table_oid) {
  return "revert_" + table_oid;
}

std::optional<std::string> bind_text(const replication::Value& value) {
  if (value.kind == replication::ValueKind::null) {
    return std::nullopt;
  }
  if (value.kind != replication::ValueKind::binary) {
    return value.text;
  }
  static const char* const digits = "0123456789abcdef";
  std::string hex = "\\x";
  hex.reserve(2 + 2 * value.text.size());
  for (unsigned char byte : value.text) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0xf];
  }
  return hex;
}

std::map<std::string, std::string> using_expressions(const std::vector<std::string>& clauses) {
  std::map<std::string, std::string> expressions;
  for (const std::string& clause : clauses) {
    const std::vector<Token> tokens = ddl::tokenize_sql(Dialect::postgres, clause);
    std::size_t pos = 0;
    if (tokens.size() < 4 || !is_keyword(tokens[pos++], "ALTER")) {
      continue;
    }
    if (is_keyword(tokens[pos], "COLUMN")) {
      ++pos;
    }
    const std::string column = ddl::identifier_value(Dialect::postgres, tokens[pos++]);
    int depth = 0;
    for (; pos < tokens.size(); ++pos) {
      const Token& token = tokens[pos];
      if (token.kind == ddl::TokenKind::symbol && (token.text == "(" || token.text == "[")) {
        ++depth;
      } else if (token.kind == ddl::TokenKind::symbol && (token.text == ")" || token.text == "]")) {
        --depth;
      } else if (depth == 0 && is_keyword(token, "USING")) {
        std::string expression;
        for (std::size_t i = pos + 1; i < tokens.size(); ++i) {
          expression += (expression.empty() || !tokens[i].space_before ? "" : " ") + tokens[i].text;
        }
        expressions[column] = expression;
        break;
      }
    }
  }
  return expressions;
}

std::string key_compare(const std::vector<std::string>& columns, const std::string& op,
                        std::size_t first) {
  return tuple(columns) + " " + op + " " + tuple(params(columns.size(), first));
}

std::string key_in(const std::vector<std::string>& columns, std::size_t keys, std::size_t first) {
  std::string list;
  for (std::size_t k = 0; k < keys; ++k) {
    list += (k == 0 ? "" : ", ") + tuple(params(columns.size(), first + k * columns.size()));
  }
  return tuple(columns) + " IN (" + list + ")";
}

KeyPredicate key_range(const std::vector<std::string>& key,
                       const std::optional<replication::Row>& after,
                       const std::optional<replication::Row>& up_to) {
  KeyPredicate predicate;
  for (const auto& [bound, op] : {std::pair{&after, ">"}, std::pair{&up_to, "<="}}) {
    if (!*bound) {
      continue;
    }
    predicate.sql +=
        (predicate.sql.empty() ? "" : " AND ") + key_compare(key, op, predicate.params.size() + 1);
    for (const replication::Value& value : **bound) {
      predicate.params.push_back(bind_text(value));
    }
  }
  if (predicate.sql.empty()) {
    predicate.sql = "true";
  }
  return predicate;
}

std::string key_list(const std::vector<std::string>& key, const std::string& suffix) {
  std::string list;
  for (const std::string& column : key) {
    list += (list.empty() ? "" : ", ") + column + suffix;
  }
  return list;
}

std::string column_names(const std::vector<PgColumn>& columns) {
  std::string list;
  for (const PgColumn& column : columns) {
    list += (list.empty() ? "" : ", ") + column.name;
  }
  return list;
}

std::string column_values(const std::vector<PgColumn>& columns) {
  std::string list;
  for (const PgColumn& column : columns) {
    list += (list.empty() ? "" : ", ") + column.value;
  }
  return list;
}

std::string filled_names(const std::vector<PgFilledColumn>& filled) {
  std::string list;
  for (const PgFilledColumn& column : filled) {
    list += ", " + column.name;
  }
  return list;
}

std::string filled_values(const std::vector<PgFilledColumn>& filled) {
  std::string list;
  for (const PgFilledColumn& column : filled) {
    list += ", " + column.value;
  }
  return list;
}

std::string quote_literal(const std::string& text) {
  const bool backslash = text.find('\\') != std::string::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : text) {
    if (c == '\'' || (backslash && c == '\\')) {
      out += c;
    }
    out += c;
  }
  return out + "'";
}

std::string array_literal(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *values[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string set_local_lock_timeout(std::chrono::milliseconds timeout) {
  return "SET LOCAL lock_timeout = '" + std::to_string(std::max<long long>(1, timeout.count())) +
         "ms'";
}

std::vector<std::string> lock_tables_sql(const std::vector<TableLockRequest>& tables,
                                         std::chrono::milliseconds timeout) {
  std::vector<std::string> statements = {"BEGIN", set_local_lock_timeout(timeout)};
  for (const TableLockRequest& request : tables) {
    statements.push_back(lock_table(request));
  }
  return statements;
}

std::vector<std::string> lock_past_vacuum(const std::string& vacuum_free,
                                          const ddl::QualifiedName& table, LockMode mode,
                                          std::chrono::milliseconds timeout) {
  return {"BEGIN", set_local_lock_timeout(kVacuumLockWait),
          "LOCK TABLE " + vacuum_free + " IN SHARE UPDATE EXCLUSIVE MODE",
          set_local_lock_timeout(timeout), lock_table({table, mode})};
}

}  // namespace sluice::postgres

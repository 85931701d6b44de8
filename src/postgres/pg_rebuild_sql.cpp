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

}  // namespace

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

std::vector<std::string> lock_tables_sql(const std::vector<TableLockRequest>& tables,
                                         std::chrono::milliseconds timeout) {
  std::vector<std::string> statements = {
      "BEGIN", // 0 would mean no limit at all.
      "SET LOCAL lock_timeout = '" + std::to_string(std::max<long long>(1, timeout.count())) + "ms'"};
  for (const TableLockRequest& request : tables) {
    statements.push_back(
        "LOCK TABLE " + ddl::quote_qualified(ddl::Dialect::postgres, request.table) +
        (request.mode == LockMode::block_writes ? " IN SHARE MODE" : " IN ACCESS EXCLUSIVE MODE"));
  }
  return statements;
}

}  // namespace sluice::postgres

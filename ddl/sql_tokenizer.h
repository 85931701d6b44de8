#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ddl/identifier.h"

namespace sluice::ddl {

enum class TokenKind {
  word,               // bare identifier or keyword
  quoted_identifier,  // `name` (MySQL) or "name" (PostgreSQL)
  string,  // '…', MySQL "…", prefixed (X'…', E'…', _utf8mb4'…'), PostgreSQL $tag$…$tag$
  number,
  symbol,  // one punctuation character
};

struct Token {
  TokenKind kind;
  std::string text;           // exactly as written in the source
  bool space_before = false;  // whitespace or a comment separated it from the previous token
};

// Splits SQL text into tokens the way `dialect`'s server would, dropping comments (`--`, `/* */`,
// and `#` for MySQL; PostgreSQL block comments nest). Throws DdlError for an unterminated string,
// quoted identifier or comment, for a NUL byte, for MySQL executable comments (`/*! … */`,
// `/*M! … */`, which the server runs as code), and for a MySQL string with a backslash-escaped
// quote (`'it\'s'`), whose end depends on the server's NO_BACKSLASH_ESCAPES mode, and for
// PostgreSQL U&'…' / U&"…" Unicode escapes (whose names it would not decode).
std::vector<Token> tokenize_sql(Dialect dialect, std::string_view sql);

// True when `token` is the bare word `keyword` (ASCII case-insensitive); quoted names never match.
bool is_keyword(const Token& token, std::string_view keyword);

// The name a word or quoted-identifier token stands for, as the server stores it: quotes removed
// and doubled quotes collapsed; bare PostgreSQL names folded to lower case.
std::string identifier_value(Dialect dialect, const Token& token);

}  // namespace sluice::ddl

#include "ddl/sql_tokenizer.h"

#include "ddl/ddl_error.h"

namespace sluice::ddl {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Bytes of multi-byte UTF-8 characters count as letters, as both servers accept them in names.
bool starts_word(char c) {
  return is_ascii_letter(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool continues_word(char c) {
  return starts_word(c) || is_digit(c) || c == '$';
}
char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}
char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) {
      return false;
    }
  }
  return true;
}

class Lexer {
 public:
  Lexer(Dialect dialect, std::string_view sql) : dialect_(dialect), sql_(sql) {}

  std::vector<Token> run() {
    while (pos_ < sql_.size()) {
      step();
    }
    return std::move(tokens_);
  }

 private:
  bool mysql() const { return dialect_ == Dialect::mysql; }
  char at(std::size_t i) const { return i < sql_.size() ? sql_[i] : '\0'; }

  void step() {
    const char c = sql_[pos_];
    if (is_space(c)) {
      ++pos_;
      space_ = true;
    } else if (c == '\0') {
      throw DdlError("the ALTER contains a NUL byte; remove it");
    } else if (starts_line_comment()) {
      skip_line_comment();
    } else if (c == '/' && at(pos_ + 1) == '*') {
      skip_block_comment();
    } else if (c == '\'') {
      lex_quoted(pos_, TokenKind::string, '\'', mysql());
    } else if (c == '"') {
      lex_quoted(pos_, mysql() ? TokenKind::string : TokenKind::quoted_identifier, '"', mysql());
    } else if (c == '`' && mysql()) {
      lex_quoted(pos_, TokenKind::quoted_identifier, '`', false);
    } else if (c == '$' && !mysql() && lex_dollar_string()) {
      return;
    } else if (is_digit(c) || (c == '.' && is_digit(at(pos_ + 1)))) {
      lex_number();
    } else if (starts_word(c)) {
      lex_word();
    } else {
      emit(pos_, pos_ + 1, TokenKind::symbol);
    }
  }

  void emit(std::size_t begin, std::size_t end, TokenKind kind) {
    tokens_.push_back(Token{kind, std::string(sql_.substr(begin, end - begin)), space_});
    space_ = false;
    pos_ = end;
  }

  // MySQL only treats `--` as a comment when a space or control character follows it.
  bool starts_line_comment() const {
    if (mysql() && sql_[pos_] == '#') {
      return true;
    }
    if (sql_[pos_] != '-' || at(pos_ + 1) != '-') {
      return false;
    }
    const char next = at(pos_ + 2);
    return !mysql() || next == '\0' || static_cast<unsigned char>(next) <= ' ';
  }

  void skip_line_comment() {
    while (pos_ < sql_.size() && sql_[pos_] != '\n') {
      ++pos_;
    }
    space_ = true;
  }

  void skip_block_comment() {
    if (mysql() && (at(pos_ + 2) == '!' || (at(pos_ + 2) == 'M' && at(pos_ + 3) == '!'))) {
      throw DdlError(
          "the ALTER contains a MySQL executable comment (/*! … */), which the server would run "
          "as code; write its content as plain SQL or remove it");
    }
    int depth = 0;
    while (pos_ < sql_.size()) {
      if (sql_[pos_] == '/' && at(pos_ + 1) == '*' && (depth == 0 || !mysql())) {
        ++depth;
        pos_ += 2;
      } else if (sql_[pos_] == '*' && at(pos_ + 1) == '/') {
        pos_ += 2;
        if (--depth == 0) {
          space_ = true;
          return;
        }
      } else {
        ++pos_;
      }
    }
    throw DdlError("the ALTER has a /* comment that is never closed; add the closing */");
  }

  // `begin` is where the token starts (before any prefix); the opening quote is at pos_.
  void lex_quoted(std::size_t begin, TokenKind kind, char quote, bool backslash_escapes) {
    std::size_t i = pos_ + 1;
    while (i < sql_.size()) {
      const char c = sql_[i];
      if (c == '\\' && backslash_escapes) {
        if (mysql() && at(i + 1) == quote) {
          throw DdlError(
              "a string in the ALTER escapes a quote with a backslash, whose meaning depends on "
              "the "
              "server's NO_BACKSLASH_ESCAPES mode; double the quote instead ('' or \"\")");
        }
        i += 2;
      } else if (c == quote && at(i + 1) == quote) {
        i += 2;
      } else if (c == quote) {
        emit(begin, i + 1, kind);
        return;
      } else {
        ++i;
      }
    }
    const std::string what = kind == TokenKind::quoted_identifier ? "a quoted name" : "a string";
    throw DdlError("the ALTER has " + what + " opened with " + std::string(1, quote) +
                   " that is never closed; close or escape the quote");
  }

  // PostgreSQL `$tag$ … $tag$`; returns false when the `$` does not open one.
  bool lex_dollar_string() {
    std::size_t tag_end = pos_ + 1;
    if (is_digit(at(tag_end))) {
      return false;
    }
    while (tag_end < sql_.size() && continues_word(sql_[tag_end]) && sql_[tag_end] != '$') {
      ++tag_end;
    }
    if (at(tag_end) != '$') {
      return false;
    }
    const std::string_view delimiter = sql_.substr(pos_, tag_end - pos_ + 1);
    const std::size_t close = sql_.find(delimiter, tag_end + 1);
    if (close == std::string_view::npos) {
      throw DdlError("the ALTER has a dollar-quoted string opened with " + std::string(delimiter) +
                     " that is never closed; add the closing " + std::string(delimiter));
    }
    emit(pos_, close + delimiter.size(), TokenKind::string);
    return true;
  }

  void lex_number() {
    std::size_t i = pos_;
    while (is_digit(at(i)) || at(i) == '.') {
      ++i;
    }
    if ((at(i) == 'e' || at(i) == 'E') &&
        (is_digit(at(i + 1)) || ((at(i + 1) == '+' || at(i + 1) == '-') && is_digit(at(i + 2))))) {
      i += 2;
      while (is_digit(at(i))) {
        ++i;
      }
    }
    emit(pos_, i, TokenKind::number);
  }

  void lex_word() {
    const std::size_t begin = pos_;
    std::size_t i = pos_;
    while (i < sql_.size() && continues_word(sql_[i])) {
      ++i;
    }
    const std::string_view word = sql_.substr(begin, i - begin);
    if (!mysql() && equals_ignore_case(word, "U") && at(i) == '&' &&
        (at(i + 1) == '\'' || at(i + 1) == '"')) {
      throw DdlError(
          "the ALTER uses a U&'…' or U&\"…\" Unicode escape, which sluice does not decode; write "
          "the characters themselves");
    }
    if (at(i) == '\'' && is_string_prefix(word)) {
      pos_ = i;
      const bool escapes = mysql() || equals_ignore_case(word, "E");
      lex_quoted(begin, TokenKind::string, '\'', escapes);
      return;
    }
    emit(begin, i, TokenKind::word);
  }

  // X'ff', B'01', N'text' in both dialects, E'\n' in PostgreSQL, _utf8mb4'text' in MySQL.
  bool is_string_prefix(std::string_view word) const {
    if (equals_ignore_case(word, "X") || equals_ignore_case(word, "B") ||
        equals_ignore_case(word, "N")) {
      return true;
    }
    return mysql() ? word.front() == '_' : equals_ignore_case(word, "E");
  }

  Dialect dialect_;
  std::string_view sql_;
  std::size_t pos_ = 0;
  bool space_ = false;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize_sql(Dialect dialect, std::string_view sql) {
  return Lexer(dialect, sql).run();
}

bool is_keyword(const Token& token, std::string_view keyword) {
  return token.kind == TokenKind::word && equals_ignore_case(token.text, keyword);
}

std::string identifier_value(Dialect dialect, const Token& token) {
  if (token.kind == TokenKind::quoted_identifier) {
    const char quote = token.text.front();
    std::string name;
    for (std::size_t i = 1; i + 1 < token.text.size(); ++i) {
      name += token.text[i];
      if (token.text[i] == quote) {
        ++i;
      }
    }
    return name;
  }
  if (dialect == Dialect::mysql) {
    return token.text;
  }
  std::string folded = token.text;
  for (char& c : folded) {
    c = to_lower(c);
  }
  return folded;
}

}  // namespace sluice::ddl

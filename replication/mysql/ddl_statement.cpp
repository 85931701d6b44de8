#include "replication/mysql/ddl_statement.h"

#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace sluice::replication::mysql {
namespace {

// A word (keyword or unquoted name), a quoted name, a dot, or any other character.
struct Token {
  enum class Kind { word, quoted, dot, other } kind;
  std::string text;
};

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool word_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return std::isalnum(byte) || c == '_' || c == '$' || byte >= 0x80;
}

// Splits the statement into tokens, dropping comments and string literals. The markers of an
// executable comment (`/*!50100`, `/*M!100000`, its `*/`) are dropped and its code kept, since
// the server runs it.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::vector<Token> tokens() {
    std::vector<Token> out;
    while (at_ < text_.size()) {
      if (skip_space_or_comment()) {
        continue;
      }
      const char c = text_[at_];
      if (c == '`' || c == '"') {
        out.push_back({Token::Kind::quoted, quoted(c)});
      } else if (c == '\'') {
        quoted(c);
      } else if (word_char(c)) {
        const std::size_t start = at_;
        while (at_ < text_.size() && word_char(text_[at_])) {
          ++at_;
        }
        out.push_back({Token::Kind::word, std::string(text_.substr(start, at_ - start))});
      } else {
        out.push_back({c == '.' ? Token::Kind::dot : Token::Kind::other, std::string(1, c)});
        ++at_;
      }
    }
    return out;
  }

 private:
  bool starts(std::string_view prefix) const { return text_.substr(at_).starts_with(prefix); }

  void skip_to(std::string_view end) {
    const std::size_t found = text_.find(end, at_);
    at_ = found == std::string_view::npos ? text_.size() : found + end.size();
  }

  bool skip_space_or_comment() {
    const char c = text_[at_];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++at_;
    } else if (c == '#' ||
               (starts("--") && (at_ + 2 == text_.size() ||
                                 std::isspace(static_cast<unsigned char>(text_[at_ + 2]))))) {
      skip_to("\n");
    } else if (starts("/*!") || starts("/*M!")) {
      at_ += starts("/*!") ? 3 : 4;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
        ++at_;
      }
    } else if (starts("/*")) {
      skip_to("*/");
    } else if (starts("*/")) {
      at_ += 2;
    } else {
      return false;
    }
    return true;
  }

  // Reads a quoted run opened by `quote` at at_, with the quote doubled or (in strings)
  // backslash-escaped inside; returns its unquoted text.
  std::string quoted(char quote) {
    std::string out;
    ++at_;
    while (at_ < text_.size()) {
      const char c = text_[at_++];
      if (c == '\\' && quote == '\'' && at_ < text_.size()) {
        out += text_[at_++];
      } else if (c == quote && at_ < text_.size() && text_[at_] == quote) {
        out += c;
        ++at_;
      } else if (c == quote) {
        break;
      } else {
        out += c;
      }
    }
    return out;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

bool is_ddl(const std::vector<Token>& tokens) {
  static constexpr std::array<std::string_view, 5> kDdl = {"ALTER", "CREATE", "DROP", "RENAME",
                                                           "TRUNCATE"};
  if (tokens.empty() || tokens.front().kind != Token::Kind::word) {
    return false;
  }
  for (std::string_view keyword : kDdl) {
    if (same_name(tokens.front().text, keyword)) {
      return true;
    }
  }
  return false;
}

bool is_name(const Token& token) {
  return token.kind == Token::Kind::word || token.kind == Token::Kind::quoted;
}

}  // namespace

bool ddl_names_table(std::string_view statement, std::string_view default_schema,
                     std::string_view schema, std::string_view table) {
  const std::vector<Token> tokens = Scanner(statement).tokens();
  if (!is_ddl(tokens)) {
    return false;
  }
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    if (!is_name(tokens[i])) {
      continue;
    }
    const bool after_like =
        tokens[i - 1].kind == Token::Kind::word && same_name(tokens[i - 1].text, "LIKE");
    const bool qualified =
        i + 2 < tokens.size() && tokens[i + 1].kind == Token::Kind::dot && is_name(tokens[i + 2]);
    const bool named =
        qualified ? same_name(tokens[i].text, schema) && same_name(tokens[i + 2].text, table)
                  : same_name(tokens[i].text, table) &&
                        (default_schema.empty() || same_name(default_schema, schema));
    if (named && !after_like) {
      return true;
    }
    if (qualified) {
      i += 2;
    }
  }
  return false;
}

}  // namespace sluice::replication::mysql

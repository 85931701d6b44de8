#include "ddl/identifier.h"

#include <vector>

#include "ddl/ddl_error.h"

namespace sluice::ddl {
namespace {

char quote_char(Dialect dialect) {
  return dialect == Dialect::mysql ? '`' : '"';
}

void require_valid(std::string_view name) {
  if (name.empty()) {
    throw DdlError("an identifier cannot be empty");
  }
  if (name.find('\0') != std::string_view::npos) {
    throw DdlError("an identifier cannot contain a NUL byte");
  }
}

char fold_ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Splits `text` on dots outside quotes and unquotes each part.
std::vector<std::string> split_parts(Dialect dialect, std::string_view text) {
  const char quote = quote_char(dialect);
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (true) {
    std::string part;
    if (i < text.size() && text[i] == quote) {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == quote) {
          if (i + 1 < text.size() && text[i + 1] == quote) {
            part += quote;
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        part += text[i++];
      }
      if (!closed) {
        throw DdlError("the name '" + std::string(text) + "' has an unbalanced " +
                       std::string(1, quote) + " quote");
      }
    } else {
      while (i < text.size() && text[i] != '.') {
        if (text[i] == quote) {
          throw DdlError("the name '" + std::string(text) +
                         "' has a quote inside a bare part; quote the whole part");
        }
        part += dialect == Dialect::postgres ? fold_ascii_lower(text[i]) : text[i];
        ++i;
      }
    }
    if (part.empty()) {
      throw DdlError("the name '" + std::string(text) + "' has an empty part");
    }
    parts.push_back(std::move(part));
    if (i == text.size()) {
      return parts;
    }
    if (text[i] != '.') {
      throw DdlError("the name '" + std::string(text) + "' has text after a closing quote");
    }
    ++i;
  }
}

}  // namespace

std::string quote_identifier(Dialect dialect, std::string_view name) {
  require_valid(name);
  const char quote = quote_char(dialect);
  std::string quoted;
  quoted.reserve(name.size() + 2);
  quoted += quote;
  for (char c : name) {
    if (c == quote) {
      quoted += quote;
    }
    quoted += c;
  }
  quoted += quote;
  return quoted;
}

std::string quote_qualified(Dialect dialect, const QualifiedName& name) {
  return quote_identifier(dialect, name.schema) + "." + quote_identifier(dialect, name.name);
}

QualifiedName parse_qualified_name(Dialect dialect, std::string_view text,
                                   std::string_view default_schema) {
  if (text.empty()) {
    throw DdlError("the table name is empty");
  }
  std::vector<std::string> parts = split_parts(dialect, text);
  for (const std::string& part : parts) {
    require_valid(part);
  }
  if (parts.size() == 1) {
    return QualifiedName{std::string(default_schema), std::move(parts[0])};
  }
  if (parts.size() == 2) {
    return QualifiedName{std::move(parts[0]), std::move(parts[1])};
  }
  throw DdlError("the name '" + std::string(text) +
                 "' has more than two dot-separated parts; use schema.table");
}

}  // namespace sluice::ddl

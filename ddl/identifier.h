#pragma once

#include <string>
#include <string_view>

namespace sluice::ddl {

enum class Dialect { mysql, postgres };

// A schema-qualified object name, unquoted (the names exactly as the server stores them).
struct QualifiedName {
  std::string schema;
  std::string name;

  bool operator==(const QualifiedName&) const = default;
};

// Quotes one identifier for `dialect`: MySQL wraps it in backticks and doubles embedded
// backticks, PostgreSQL wraps it in double quotes and doubles embedded double quotes. Any byte
// sequence except NUL is representable, so every name (spaces, semicolons, unicode) is safe to
// splice into SQL once quoted. Throws DdlError for an empty name or a NUL byte.
std::string quote_identifier(Dialect dialect, std::string_view name);

// `schema.name`, each part quoted.
std::string quote_qualified(Dialect dialect, const QualifiedName& name);

// Parses a user-supplied table name: `name` or `schema.name`, where each part is either bare or
// quoted in the dialect's quote character (with doubled quotes inside). Bare PostgreSQL parts fold
// to lower case, as the server folds them; MySQL parts keep their case. A missing schema becomes
// `default_schema`. Throws DdlError on unbalanced quotes, empty parts or more than two parts.
QualifiedName parse_qualified_name(Dialect dialect, std::string_view text,
                                   std::string_view default_schema);

}  // namespace sluice::ddl

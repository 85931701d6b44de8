#include "src/postgres/pg_shadow_sql.h"

#include "ddl/sql_tokenizer.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {

std::string create_like(const std::string& shadow, const std::string& table) {
  return "CREATE TABLE " + shadow + " (LIKE " + table + " INCLUDING ALL)";
}

std::string alter_table(const std::string& table, const std::vector<std::string>& clauses) {
  std::string joined;
  for (const std::string& clause : clauses) {
    joined += (joined.empty() ? "" : ", ") + clause;
  }
  return "ALTER TABLE " + table + " " + joined;
}

std::string retarget_constraint(const std::string& clause,
                                const std::map<std::string, std::string>& names) {
  const std::vector<ddl::Token> tokens = ddl::tokenize_sql(ddl::Dialect::postgres, clause);
  const bool names_constraint =
      tokens.size() > 2 && ddl::is_keyword(tokens[1], "CONSTRAINT") &&
      (ddl::is_keyword(tokens[0], "DROP") || ddl::is_keyword(tokens[0], "ALTER") ||
       ddl::is_keyword(tokens[0], "VALIDATE") || ddl::is_keyword(tokens[0], "RENAME"));
  if (!names_constraint) {
    return clause;
  }
  std::size_t at = 2;
  if (tokens.size() > 4 && ddl::is_keyword(tokens[2], "IF") &&
      ddl::is_keyword(tokens[3], "EXISTS")) {
    at = 4;
  }
  const auto found = names.find(ddl::identifier_value(ddl::Dialect::postgres, tokens[at]));
  if (found == names.end()) {
    return clause;
  }
  std::string rewritten;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0 && tokens[i].space_before) {
      rewritten += ' ';
    }
    rewritten += i == at ? ident(found->second) : tokens[i].text;
  }
  return rewritten;
}

std::string like_constraint_names() {
  const std::string side =
      "SELECT conname, contype, pg_get_constraintdef(oid) AS def, row_number() OVER (PARTITION "
      "BY contype, pg_get_constraintdef(oid) ORDER BY conindid) AS n FROM pg_constraint WHERE "
      "contype IN ('p', 'u', 'x') AND conrelid = ";
  return "SELECT o.conname, s.conname FROM (" + side + "$1::regclass) o JOIN (" + side +
         "$2::regclass) s USING (contype, def, n)";
}

std::string comment_on_table(const std::string& table, const std::string& comment) {
  return "COMMENT ON TABLE " + table + " IS " + quote_literal(comment);
}

std::string set_storage_parameters(const std::string& table, const std::string& reloptions) {
  return "ALTER TABLE " + table + " SET (" + reloptions + ")";
}

std::string owner_to(const std::string& table, const std::string& owner) {
  return "ALTER TABLE " + table + " OWNER TO " + ident(owner);
}

std::string grant(const std::string& privilege, const std::string& table,
                  const std::string& grantee, bool grantable) {
  return "GRANT " + privilege + " ON " + table + " TO " + grantee +
         (grantable ? " WITH GRANT OPTION" : "");
}

std::string enable_row_security(const std::string& table) {
  return "ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY";
}

std::optional<std::string> retarget_trigger(const std::string& definition, const std::string& table,
                                            const std::string& shadow) {
  const std::string on = " ON " + table + " ";
  const std::size_t at = definition.find(on);
  if (at == std::string::npos) {
    return std::nullopt;
  }
  std::string retargeted = definition;
  retargeted.replace(at, on.size(), " ON " + shadow + " ");
  return retargeted;
}

std::string disable_user_triggers(const std::string& shadow) {
  return "ALTER TABLE " + shadow + " DISABLE TRIGGER USER";
}

std::string create_policy(const std::string& table, const PolicyDefinition& policy) {
  std::string statement = "CREATE POLICY " + ident(policy.name) + " ON " + table + " AS " +
                          policy.permissive + " FOR " + policy.command + " TO " + policy.roles;
  if (policy.using_expression) {
    statement += " USING (" + *policy.using_expression + ")";
  }
  if (policy.check) {
    statement += " WITH CHECK (" + *policy.check + ")";
  }
  return statement;
}

std::string drop_index(const std::string& name) {
  return "DROP INDEX " + name;
}

std::string create_index_on(const std::string& shadow, const std::string& tail) {
  return "CREATE INDEX ON " + shadow + " " + tail;
}

std::string drop_constraint(const std::string& table, const std::string& name) {
  return "ALTER TABLE " + table + " DROP CONSTRAINT " + name;
}

std::string add_constraint(const std::string& table, const std::string& name,
                           const std::string& definition) {
  return "ALTER TABLE " + table + " ADD CONSTRAINT " + name + " " + definition;
}

std::string drop_table(const std::string& table) {
  return "DROP TABLE " + table;
}

std::string drop_table_if_exists(const std::string& table) {
  return "DROP TABLE IF EXISTS " + table;
}

std::string column_value(const std::string& column, const std::string& source_type,
                         const std::string& shadow_type,
                         const std::optional<std::string>& using_expression) {
  if (using_expression) {
    return "CAST((" + *using_expression + ") AS " + shadow_type + ")";
  }
  if (shadow_type != source_type) {
    return "CAST(" + column + " AS " + shadow_type + ")";
  }
  return column;
}

std::string added_defaults() {
  return "SELECT quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), "
         "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = "
         "a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND "
         "NOT a.attisdropped AND a.attgenerated = '' AND a.attname <> ALL ($2::text[]) ORDER BY "
         "a.attnum";
}

std::string create_probe_table(const std::string& probe) {
  return "CREATE TABLE " + probe + " ()";
}

std::string add_probe_column(const std::string& probe, const std::string& type,
                             const std::string& expression) {
  return "ALTER TABLE " + probe + " ADD COLUMN " + kDefaultProbe + " " + type + " DEFAULT " +
         expression;
}

std::string probed_default(const std::string& type) {
  return "SELECT ((attmissingval::text)::" + type +
         "[])[1]::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = '" +
         kDefaultProbe + "' AND atthasmissing";
}

std::string any_value(const std::string& table, const std::string& column) {
  return "SELECT " + column + "::text FROM " + table + " LIMIT 1";
}

}  // namespace sluice::postgres

#include "ddl/alter_analysis.h"

#include <initializer_list>
#include <span>

#include "ddl/ddl_error.h"
#include "ddl/sql_tokenizer.h"

namespace sluice::ddl {
namespace {

using Tokens = std::span<const Token>;

bool is_symbol(const Token& token, char c) {
  return token.kind == TokenKind::symbol && token.text.size() == 1 && token.text[0] == c;
}

bool is_any_keyword(const Token& token, std::initializer_list<std::string_view> keywords) {
  for (std::string_view keyword : keywords) {
    if (is_keyword(token, keyword)) {
      return true;
    }
  }
  return false;
}

// ASCII only, like the servers' keyword matching, and independent of the process locale.
bool equals_ignore_case(std::string_view a, std::string_view b) {
  return is_keyword(Token{TokenKind::word, std::string(a)}, b);
}

// Tokens joined with one space wherever the source had whitespace or a comment.
std::string render(Tokens tokens) {
  std::string text;
  for (const Token& token : tokens) {
    if (token.space_before && !text.empty()) {
      text += ' ';
    }
    text += token.text;
  }
  return text;
}

// The clause as shown in error messages, shortened so one sentence stays readable.
std::string excerpt(Tokens tokens) {
  constexpr std::size_t max_length = 80;
  std::string text = render(tokens);
  if (text.size() > max_length) {
    std::size_t cut = max_length;
    // Never cut a UTF-8 character in half: back up over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text = text.substr(0, cut) + "…";
  }
  return text;
}

// Splits on commas outside parentheses and brackets.
std::vector<Tokens> split_top_level(Tokens tokens) {
  std::vector<Tokens> parts;
  int depth = 0;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    if (is_symbol(token, '(') || is_symbol(token, '[')) {
      ++depth;
    } else if (is_symbol(token, ')') || is_symbol(token, ']')) {
      if (--depth < 0) {
        throw DdlError("the ALTER closes a parenthesis it never opened; remove the extra ')'");
      }
    } else if (depth == 0 && is_symbol(token, ',')) {
      parts.push_back(tokens.subspan(begin, i - begin));
      begin = i + 1;
    }
  }
  if (depth != 0) {
    throw DdlError("the ALTER opens a parenthesis it never closes; add the missing ')'");
  }
  parts.push_back(tokens.subspan(begin));
  return parts;
}

// True when `tokens` is one parenthesised group: '(' … ')' with the first parenthesis closing last.
bool is_parenthesized(Tokens tokens) {
  if (tokens.empty() || !is_symbol(tokens.front(), '(')) {
    return false;
  }
  int depth = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (is_symbol(tokens[i], '(')) {
      ++depth;
    } else if (is_symbol(tokens[i], ')') && --depth == 0) {
      return i + 1 == tokens.size();
    }
  }
  return false;
}

// True when `keyword` occurs outside parentheses and brackets.
bool has_top_level_keyword(Tokens tokens, std::string_view keyword) {
  int depth = 0;
  for (const Token& token : tokens) {
    if (is_symbol(token, '(') || is_symbol(token, '[')) {
      ++depth;
    } else if (is_symbol(token, ')') || is_symbol(token, ']')) {
      --depth;
    } else if (depth == 0 && is_keyword(token, keyword)) {
      return true;
    }
  }
  return false;
}

// The tokens of the one statement; a trailing ';' is allowed, anything after it is not.
Tokens single_statement(Tokens tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (is_symbol(tokens[i], ';')) {
      if (i + 1 != tokens.size()) {
        throw DdlError(
            "the ALTER contains a second statement after ';'; pass only the ALTER TABLE "
            "specification");
      }
      return tokens.first(i);
    }
  }
  return tokens;
}

std::string quoted(Dialect dialect, const std::string& name) {
  return quote_identifier(dialect, name);
}

[[noreturn]] void refuse_unrecognised(Tokens clause) {
  throw DdlError("sluice does not recognise the ALTER clause '" + excerpt(clause) +
                 "'; check its spelling, or run it with the server's own ALTER TABLE");
}

[[noreturn]] void refuse_column_rename(Dialect dialect, const std::string& from,
                                       const std::string& to) {
  throw DdlError("renaming column " + quoted(dialect, from) + " to " + quoted(dialect, to) +
                 " in place would break the running application; use an expand-contract rename "
                 "(add " +
                 quoted(dialect, to) + ", backfill, switch, drop " + quoted(dialect, from) +
                 "): see `sluice plan`");
}

[[noreturn]] void refuse_table_rename(Tokens clause) {
  throw DdlError("'" + excerpt(clause) +
                 "' renames the table, which is not a schema change sluice can run online; "
                 "rename it separately with the server's own statement after the migration");
}

[[noreturn]] void refuse_partitioning(Tokens clause) {
  throw DdlError("'" + excerpt(clause) +
                 "' changes partitioning, which sluice alter does not support; run it with the "
                 "server's own ALTER TABLE");
}

// Reads one clause left to right.
class Cursor {
 public:
  Cursor(Dialect dialect, Tokens clause) : dialect_(dialect), clause_(clause) {}

  bool at_end() const { return pos_ >= clause_.size(); }
  Tokens clause() const { return clause_; }
  Tokens rest() const { return clause_.subspan(pos_); }

  bool peek(std::string_view keyword, std::size_t ahead = 0) const {
    return pos_ + ahead < clause_.size() && is_keyword(clause_[pos_ + ahead], keyword);
  }

  bool peek_symbol(char c) const { return !at_end() && is_symbol(clause_[pos_], c); }

  bool accept(std::string_view keyword) {
    if (!peek(keyword)) {
      return false;
    }
    ++pos_;
    return true;
  }

  // Consumes the keywords only when all of them follow in order.
  bool accept(std::initializer_list<std::string_view> keywords) {
    std::size_t ahead = 0;
    for (std::string_view keyword : keywords) {
      if (!peek(keyword, ahead++)) {
        return false;
      }
    }
    pos_ += keywords.size();
    return true;
  }

  bool accept_symbol(char c) {
    if (!peek_symbol(c)) {
      return false;
    }
    ++pos_;
    return true;
  }

  void expect(std::string_view keyword) {
    if (!accept(keyword)) {
      refuse_unrecognised(clause_);
    }
  }

  bool peek_name() const {
    return !at_end() && (clause_[pos_].kind == TokenKind::word ||
                         clause_[pos_].kind == TokenKind::quoted_identifier);
  }

  std::string name() {
    if (!peek_name()) {
      refuse_unrecognised(clause_);
    }
    std::string value = identifier_value(dialect_, clause_[pos_++]);
    if (value.empty()) {
      throw DdlError("the ALTER clause '" + excerpt(clause_) +
                     "' uses an empty quoted name; give the column or index a name");
    }
    return value;
  }

  // Any one token that can stand as an option value (not punctuation).
  void value() {
    if (at_end() || clause_[pos_].kind == TokenKind::symbol) {
      refuse_unrecognised(clause_);
    }
    ++pos_;
  }

  void expect_end() const {
    if (!at_end()) {
      refuse_unrecognised(clause_);
    }
  }

 private:
  Dialect dialect_;
  Tokens clause_;
  std::size_t pos_ = 0;
};

// Words that start a clause but never appear inside a column definition or default: finding
// one there means a comma is missing (or a comment swallowed it), so the text is not what the
// user meant.
void require_no_clause_keyword(Dialect dialect, Tokens definition, const std::string& column) {
  for (std::string_view keyword : {"ADD", "DROP", "ALTER", "MODIFY", "CHANGE", "RENAME"}) {
    if (has_top_level_keyword(definition, keyword)) {
      throw DdlError("the definition of column " + quoted(dialect, column) + " contains " +
                     std::string(keyword) +
                     ", which starts another clause; separate clauses with commas");
    }
  }
}

void require_column_definition(Dialect dialect, Tokens clause, Tokens definition,
                               const std::string& column) {
  if (definition.empty()) {
    throw DdlError("the ALTER clause '" + excerpt(clause) + "' gives column " +
                   quoted(dialect, column) + " no type; add its definition");
  }
  require_no_clause_keyword(dialect, definition, column);
}

class Analyzer {
 public:
  explicit Analyzer(Dialect dialect) : dialect_(dialect) {}

  // Returns whether the clause is an instant candidate.
  bool clause(Tokens tokens) {
    if (tokens.empty()) {
      throw DdlError(
          "the ALTER has an empty clause (two commas in a row or a trailing comma); "
          "remove the extra comma");
    }
    Cursor cursor(dialect_, tokens);
    return dialect_ == Dialect::mysql ? mysql_clause(cursor) : postgres_clause(cursor);
  }

  AlterAnalysis& result() { return result_; }

 private:
  // ---- shared pieces ----

  void add_index(std::string name, bool unique, bool primary) {
    result_.added_indexes.push_back(std::move(name));
    result_.adds_unique_key = result_.adds_unique_key || unique || primary;
    result_.changes_primary_key = result_.changes_primary_key || primary;
  }

  // A key declared inside a column definition (`id INT PRIMARY KEY`, `email TEXT UNIQUE`, and
  // MySQL's bare `KEY`, which means PRIMARY KEY there). Returns whether there was one.
  bool inline_key(Tokens definition) {
    const bool unique = has_top_level_keyword(definition, "UNIQUE");
    const bool primary =
        has_top_level_keyword(definition, "PRIMARY") ||
        (dialect_ == Dialect::mysql && !unique && has_top_level_keyword(definition, "KEY"));
    if (unique || primary) {
      add_index("", unique, primary);
    }
    return unique || primary;
  }

  // ADD [CONSTRAINT [name]] {PRIMARY KEY | UNIQUE | FOREIGN KEY | CHECK | EXCLUDE} …, positioned
  // after ADD. Returns false (consuming nothing) when the clause is not a constraint.
  bool constraint(Cursor& cursor) {
    std::string symbol;
    if (cursor.accept("CONSTRAINT")) {
      if (!starts_constraint_body(cursor)) {
        symbol = cursor.name();
      }
      if (!starts_constraint_body(cursor)) {
        refuse_unrecognised(cursor.clause());
      }
    } else if (!starts_constraint_body(cursor)) {
      return false;
    }
    if (cursor.accept({"PRIMARY", "KEY"})) {
      add_index(dialect_ == Dialect::mysql ? "PRIMARY" : symbol, true, true);
    } else if (cursor.accept("UNIQUE")) {
      add_index(mysql_index_name(cursor, symbol), true, false);
    } else if (cursor.accept("EXCLUDE")) {
      add_index(symbol, true, false);
    } else if (cursor.accept({"FOREIGN", "KEY"})) {
      const std::string index_name = mysql_index_name(cursor, "");
      add_index(symbol.empty() ? index_name : symbol, false, false);
    } else {
      cursor.expect("CHECK");
      add_index(symbol, false, false);
    }
    if (cursor.at_end()) {
      refuse_unrecognised(cursor.clause());
    }
    return true;
  }

  bool starts_constraint_body(const Cursor& cursor) const {
    if (cursor.peek("PRIMARY") && cursor.peek("KEY", 1)) {
      return true;
    }
    if (cursor.peek("FOREIGN") && cursor.peek("KEY", 1)) {
      return true;
    }
    return cursor.peek("UNIQUE") || cursor.peek("CHECK") ||
           (dialect_ == Dialect::postgres && cursor.peek("EXCLUDE"));
  }

  // MySQL's optional `[INDEX|KEY] [IF NOT EXISTS] [name]` after UNIQUE / FOREIGN KEY / INDEX;
  // `fallback` when no name is given. PostgreSQL has no such name.
  std::string mysql_index_name(Cursor& cursor, const std::string& fallback) {
    if (dialect_ != Dialect::mysql) {
      return fallback;
    }
    if (!cursor.accept("INDEX")) {
      cursor.accept("KEY");
    }
    cursor.accept({"IF", "NOT", "EXISTS"});
    if (cursor.peek_name() && !cursor.peek("USING")) {
      return cursor.name();
    }
    return fallback;
  }

  void rename_index(Cursor& cursor) {
    std::string from = cursor.name();
    cursor.expect("TO");
    std::string to = cursor.name();
    cursor.expect_end();
    result_.dropped_indexes.push_back(std::move(from));
    result_.added_indexes.push_back(std::move(to));
  }

  [[noreturn]] void refuse_column_rename_clause(Cursor& cursor) {
    const std::string from = cursor.name();
    cursor.expect("TO");
    const std::string to = cursor.name();
    refuse_column_rename(dialect_, from, to);
  }

  // ---- MySQL / MariaDB ----

  bool mysql_clause(Cursor& cursor) {
    if (cursor.peek("PARTITION") || cursor.peek("PARTITION", 1) || cursor.peek("PARTITIONING", 1)) {
      refuse_partitioning(cursor.clause());
    }
    if (cursor.accept("ADD")) {
      return mysql_add(cursor);
    }
    if (cursor.accept("DROP")) {
      return mysql_drop(cursor);
    }
    if (cursor.accept("MODIFY")) {
      cursor.accept("COLUMN");
      cursor.accept({"IF", "EXISTS"});
      modify_column(cursor, cursor.name());
      return false;
    }
    if (cursor.accept("CHANGE")) {
      return mysql_change(cursor);
    }
    if (cursor.accept("ALTER")) {
      return mysql_alter_column(cursor);
    }
    if (cursor.accept("RENAME")) {
      return mysql_rename(cursor);
    }
    mysql_refuse_special(cursor);
    mysql_table_options(cursor);
    return false;
  }

  bool mysql_add(Cursor& cursor) {
    if (cursor.peek("INDEX") || cursor.peek("KEY") || cursor.peek("FULLTEXT") ||
        cursor.peek("SPATIAL")) {
      if (!cursor.accept("FULLTEXT")) {
        cursor.accept("SPATIAL");
      }
      add_index(mysql_index_name(cursor, ""), false, false);
      if (cursor.at_end()) {
        refuse_unrecognised(cursor.clause());
      }
      return false;
    }
    if (constraint(cursor)) {
      return false;
    }
    // MariaDB's ADD SYSTEM VERSIONING / ADD PERIOD FOR would otherwise read as a column `SYSTEM`.
    if ((cursor.peek("SYSTEM") && cursor.peek("VERSIONING", 1)) ||
        (cursor.peek("PERIOD") && cursor.peek("FOR", 1))) {
      refuse_unrecognised(cursor.clause());
    }
    cursor.accept("COLUMN");
    cursor.accept({"IF", "NOT", "EXISTS"});
    if (is_parenthesized(cursor.rest())) {
      return mysql_add_column_list(cursor.clause(), cursor.rest());
    }
    const std::string column = cursor.name();
    return add_column(cursor.clause(), column, cursor.rest());
  }

  // ADD [COLUMN] (a INT, b TEXT): `list` is the parenthesised group.
  bool mysql_add_column_list(Tokens clause, Tokens list) {
    bool instant = true;
    for (Tokens definition : split_top_level(list.subspan(1, list.size() - 2))) {
      if (definition.empty()) {
        refuse_unrecognised(clause);
      }
      Cursor column(dialect_, definition);
      const std::string name = column.name();
      instant = add_column(clause, name, column.rest()) && instant;
    }
    return instant;
  }

  bool add_column(Tokens clause, const std::string& column, Tokens definition) {
    require_column_definition(dialect_, clause, definition, column);
    result_.added_columns.push_back(column);
    const bool keyed = inline_key(definition);
    if (dialect_ == Dialect::postgres) {
      return !keyed && postgres_add_column_is_instant(definition);
    }
    return !keyed && mysql_add_column_is_instant(definition);
  }

  // AUTO_INCREMENT and stored generated columns make the server fill every row; CHECK and
  // REFERENCES make it check every row.
  static bool mysql_add_column_is_instant(Tokens definition) {
    for (std::string_view keyword :
         {"AUTO_INCREMENT", "STORED", "PERSISTENT", "CHECK", "REFERENCES"}) {
      if (has_top_level_keyword(definition, keyword)) {
        return false;
      }
    }
    return true;
  }

  void modify_column(Cursor& cursor, const std::string& column) {
    require_column_definition(dialect_, cursor.clause(), cursor.rest(), column);
    inline_key(cursor.rest());
    result_.modified_columns.push_back(column);
  }

  bool mysql_drop(Cursor& cursor) {
    if (cursor.accept({"PRIMARY", "KEY"})) {
      cursor.expect_end();
      drop_index("PRIMARY");
      return false;
    }
    if (cursor.accept("INDEX") || cursor.accept("KEY") || cursor.accept({"FOREIGN", "KEY"}) ||
        cursor.accept("CONSTRAINT") || cursor.accept("CHECK")) {
      cursor.accept({"IF", "EXISTS"});
      drop_index(cursor.name());
      cursor.expect_end();
      return false;
    }
    return drop_column(cursor);
  }

  void drop_index(std::string name) {
    if (dialect_ == Dialect::mysql && equals_ignore_case(name, "PRIMARY")) {
      result_.changes_primary_key = true;
    }
    result_.dropped_indexes.push_back(std::move(name));
  }

  bool drop_column(Cursor& cursor) {
    cursor.accept("COLUMN");
    cursor.accept({"IF", "EXISTS"});
    result_.dropped_columns.push_back(cursor.name());
    if (!cursor.accept("CASCADE")) {
      cursor.accept("RESTRICT");
    }
    cursor.expect_end();
    return true;
  }

  bool mysql_change(Cursor& cursor) {
    cursor.accept("COLUMN");
    cursor.accept({"IF", "EXISTS"});
    const std::string from = cursor.name();
    const std::string to = cursor.name();
    if (from != to) {
      refuse_column_rename(dialect_, from, to);
    }
    modify_column(cursor, to);
    return false;
  }

  bool mysql_alter_column(Cursor& cursor) {
    cursor.accept("COLUMN");
    const std::string column = cursor.name();
    if (cursor.accept({"DROP", "DEFAULT"})) {
      cursor.expect_end();
      return true;
    }
    cursor.expect("SET");
    cursor.expect("DEFAULT");
    return set_default(cursor, column);
  }

  // The rest of `ALTER [COLUMN] c SET DEFAULT expr`; always an instant candidate.
  bool set_default(const Cursor& cursor, const std::string& column) const {
    if (cursor.at_end()) {
      refuse_unrecognised(cursor.clause());
    }
    require_no_clause_keyword(dialect_, cursor.rest(), column);
    return true;
  }

  bool mysql_rename(Cursor& cursor) {
    if (cursor.accept("INDEX") || cursor.accept("KEY")) {
      rename_index(cursor);
      return true;
    }
    if (cursor.accept("COLUMN")) {
      refuse_column_rename_clause(cursor);
    }
    refuse_table_rename(cursor.clause());
  }

  void mysql_refuse_special(const Cursor& cursor) const {
    if (cursor.peek("ALGORITHM") || cursor.peek("LOCK")) {
      throw DdlError("'" + excerpt(cursor.clause()) +
                     "' chooses how the server runs the change, but sluice chooses that itself; "
                     "remove the clause (use --force-rebuild to avoid an instant change)");
    }
    if (cursor.peek("ORDER") && cursor.peek("BY", 1)) {
      throw DdlError("'" + excerpt(cursor.clause()) +
                     "' is not supported because sluice copies rows in key order; remove it");
    }
    if ((cursor.peek("DISCARD") || cursor.peek("IMPORT")) && cursor.peek("TABLESPACE", 1)) {
      throw DdlError("'" + excerpt(cursor.clause()) +
                     "' manages tablespace files, not the schema; run it with the server's own "
                     "ALTER TABLE");
    }
  }

  // One or more table options, which MySQL accepts separated by spaces as well as commas.
  void mysql_table_options(Cursor& cursor) {
    while (!cursor.at_end()) {
      mysql_refuse_special(cursor);
      mysql_table_option(cursor);
    }
    result_.changes_table_options = true;
  }

  void mysql_table_option(Cursor& cursor) {
    if (cursor.accept("FORCE")) {
      return;
    }
    if (cursor.accept({"CONVERT", "TO"})) {
      charset_keyword(cursor);
      cursor.value();
      if (cursor.accept("COLLATE")) {
        cursor.accept_symbol('=');
        cursor.value();
      }
      return;
    }
    cursor.accept("DEFAULT");
    if (!charset_keyword(cursor) && !cursor.accept("COLLATE") && !accept_option_name(cursor)) {
      refuse_unrecognised(cursor.clause());
    }
    cursor.accept_symbol('=');
    cursor.value();
  }

  static bool charset_keyword(Cursor& cursor) {
    return cursor.accept({"CHARACTER", "SET"}) || cursor.accept("CHARSET");
  }

  static bool accept_option_name(Cursor& cursor) {
    for (std::string_view option :
         {"ENGINE", "COMMENT", "ROW_FORMAT", "AUTO_INCREMENT", "KEY_BLOCK_SIZE", "AVG_ROW_LENGTH",
          "CHECKSUM", "COMPRESSION", "ENCRYPTION", "MAX_ROWS", "MIN_ROWS", "PACK_KEYS",
          "STATS_AUTO_RECALC", "STATS_PERSISTENT", "STATS_SAMPLE_PAGES", "PAGE_COMPRESSED",
          "PAGE_COMPRESSION_LEVEL", "TRANSACTIONAL", "DELAY_KEY_WRITE"}) {
      if (cursor.accept(option)) {
        return true;
      }
    }
    return false;
  }

  // ---- PostgreSQL ----

  bool postgres_clause(Cursor& cursor) {
    if (cursor.accept("ADD")) {
      return postgres_add(cursor);
    }
    if (cursor.accept("DROP")) {
      return postgres_drop(cursor);
    }
    if (cursor.accept("ALTER")) {
      return postgres_alter_column(cursor);
    }
    if (cursor.accept("RENAME")) {
      return postgres_rename(cursor);
    }
    if (cursor.peek("SET") || cursor.peek("RESET")) {
      postgres_set(cursor);
      return false;
    }
    postgres_refuse_catalog_only(cursor);
    refuse_unrecognised(cursor.clause());
  }

  bool postgres_add(Cursor& cursor) {
    if (constraint(cursor)) {
      return false;
    }
    cursor.accept("COLUMN");
    cursor.accept({"IF", "NOT", "EXISTS"});
    const std::string column = cursor.name();
    return add_column(cursor.clause(), column, cursor.rest());
  }

  // A new column is filled without touching rows when its default is a constant: conservatively
  // a literal or NULL. Serial types, identity and generated columns, and constraints that must be
  // checked against every row rule that out, as does NOT NULL without a non-NULL default.
  static bool postgres_add_column_is_instant(Tokens definition) {
    for (std::string_view keyword : {"GENERATED", "CHECK", "REFERENCES", "SERIAL", "BIGSERIAL",
                                     "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8"}) {
      if (has_top_level_keyword(definition, keyword)) {
        return false;
      }
    }
    const bool not_null = has_top_level_keyword(definition, "NOT");
    std::size_t i = 0;
    while (i < definition.size() && !is_keyword(definition[i], "DEFAULT")) {
      ++i;
    }
    if (i == definition.size()) {
      return !not_null;
    }
    const Tokens def = definition.subspan(i + 1);
    std::size_t literal = 0;
    if (literal < def.size() && (is_symbol(def[literal], '-') || is_symbol(def[literal], '+'))) {
      ++literal;
    }
    if (literal >= def.size() || !is_literal(def[literal])) {
      return false;
    }
    const bool ends_expression =
        literal + 1 == def.size() ||
        is_any_keyword(def[literal + 1], {"NOT", "NULL", "CONSTRAINT", "COLLATE"});
    return ends_expression && !(not_null && is_keyword(def[literal], "NULL"));
  }

  static bool is_literal(const Token& token) {
    return token.kind == TokenKind::string || token.kind == TokenKind::number ||
           is_any_keyword(token, {"NULL", "TRUE", "FALSE"});
  }

  bool postgres_drop(Cursor& cursor) {
    if (cursor.accept("CONSTRAINT")) {
      cursor.accept({"IF", "EXISTS"});
      result_.dropped_indexes.push_back(cursor.name());
      if (!cursor.accept("CASCADE")) {
        cursor.accept("RESTRICT");
      }
      cursor.expect_end();
      return false;
    }
    return drop_column(cursor);
  }

  bool postgres_alter_column(Cursor& cursor) {
    cursor.accept("COLUMN");
    const std::string column = cursor.name();
    if (cursor.accept({"SET", "DATA", "TYPE"}) || cursor.accept("TYPE")) {
      modify_column(cursor, column);
      return false;
    }
    if (cursor.accept({"SET", "NOT", "NULL"}) || cursor.accept({"DROP", "NOT", "NULL"})) {
      cursor.expect_end();
      result_.modified_columns.push_back(column);
      return false;
    }
    if (cursor.accept({"DROP", "DEFAULT"})) {
      cursor.expect_end();
      return true;
    }
    if (cursor.accept({"SET", "DEFAULT"})) {
      return set_default(cursor, column);
    }
    refuse_unrecognised(cursor.clause());
  }

  bool postgres_rename(Cursor& cursor) {
    if (cursor.accept("CONSTRAINT")) {
      rename_index(cursor);
      return true;
    }
    if (cursor.peek("TO")) {
      refuse_table_rename(cursor.clause());
    }
    cursor.accept("COLUMN");
    refuse_column_rename_clause(cursor);
  }

  void postgres_set(Cursor& cursor) {
    if (cursor.peek("SET") && cursor.peek("SCHEMA", 1)) {
      throw DdlError("'" + excerpt(cursor.clause()) +
                     "' moves the table to another schema, which is not a rebuild; run it with "
                     "the server's own ALTER TABLE");
    }
    if (cursor.peek("SET") && cursor.peek("UNLOGGED", 1)) {
      throw DdlError("'" + excerpt(cursor.clause()) +
                     "' would make the table unlogged, and sluice follows changes through the "
                     "write-ahead log; keep the table logged");
    }
    const bool reset = cursor.accept("RESET");
    if (!reset) {
      cursor.expect("SET");
    }
    if (is_parenthesized(cursor.rest())) {
      result_.changes_table_options = true;
      return;
    }
    if (!reset && cursor.accept("TABLESPACE")) {
      cursor.name();
    } else if (reset || !cursor.accept("LOGGED")) {
      refuse_unrecognised(cursor.clause());
    }
    cursor.expect_end();
    result_.changes_table_options = true;
  }

  // Clauses that only change the catalog or the table's place among others; applying them to a
  // shadow copy makes no sense.
  static void postgres_refuse_catalog_only(const Cursor& cursor) {
    const std::string clause = "'" + excerpt(cursor.clause()) + "'";
    if (cursor.peek("ATTACH") || cursor.peek("DETACH")) {
      refuse_partitioning(cursor.clause());
    }
    if (cursor.peek("OWNER")) {
      throw DdlError(clause + " only changes the catalog; run it directly, without sluice");
    }
    if (cursor.peek("ENABLE") || cursor.peek("DISABLE")) {
      throw DdlError(clause +
                     " switches triggers or rules, which sluice manages itself during a rebuild; "
                     "run it directly, without sluice, before or after the migration");
    }
    if (cursor.peek("REPLICA")) {
      throw DdlError(clause +
                     " changes the replica identity that sluice's change capture relies on; run it "
                     "directly, without sluice, before or after the migration");
    }
    if (cursor.peek("CLUSTER")) {
      throw DdlError(clause +
                     " only marks an index in the catalog; run it directly, without sluice");
    }
    if (cursor.peek("INHERIT") || (cursor.peek("NO") && cursor.peek("INHERIT", 1))) {
      throw DdlError(clause +
                     " changes table inheritance, which a rebuilt copy cannot carry over; run it "
                     "directly, without sluice");
    }
  }

  Dialect dialect_;
  AlterAnalysis result_;
};

}  // namespace

AlterAnalysis analyze_alter(Dialect dialect, std::string_view specification) {
  const std::vector<Token> tokens = tokenize_sql(dialect, specification);
  const Tokens statement = single_statement(tokens);
  if (statement.empty()) {
    throw DdlError("the ALTER specification is empty; pass clauses such as \"ADD COLUMN c INT\"");
  }
  Analyzer analyzer(dialect);
  bool instant = true;
  for (Tokens clause : split_top_level(statement)) {
    instant = analyzer.clause(clause) && instant;
    analyzer.result().clauses.push_back(render(clause));
  }
  AlterAnalysis result = std::move(analyzer.result());
  result.instant_candidate = instant;
  return result;
}

}  // namespace sluice::ddl

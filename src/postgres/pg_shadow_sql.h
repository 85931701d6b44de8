#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::postgres {

// Pure SQL text for making, adopting and dropping the shadow table (no connection). Table
// names are already quoted.

// CREATE TABLE shadow (LIKE table INCLUDING ALL): columns, defaults, constraints, indexes,
// identity, storage and comments on columns; not what the other builders below add.
std::string create_like(const std::string& shadow, const std::string& table);

// ALTER TABLE table clause, clause, ...: the user's change, in one statement as they gave it.
std::string alter_table(const std::string& table, const std::vector<std::string>& clauses);

// `clause` of the user's ALTER, made to act on the shadow's copy of the constraint it names
// (DROP CONSTRAINT [IF EXISTS] name, ALTER / VALIDATE / RENAME CONSTRAINT name): LIKE names its
// copies of index-backed constraints after the shadow (`_t_new_code_key` for `t_code_key`).
// `names` maps the original's constraint names to the shadow's, both unquoted; a clause naming no
// constraint, or one `names` does not hold (a CHECK keeps its name), is returned unchanged.
std::string retarget_constraint(const std::string& clause,
                                const std::map<std::string, std::string>& names);

// The table's ($1) index-backed constraints (primary key, unique, exclusion) beside their
// copies on the shadow ($2) that CREATE TABLE … LIKE made: matched by kind and definition, and
// equal ones in the order of their indexes, which is the order LIKE copies them in.
std::string like_constraint_names();

std::string comment_on_table(const std::string& table, const std::string& comment);

// ALTER TABLE table SET (reloptions): `reloptions` as array_to_string(reloptions, ', ') prints.
std::string set_storage_parameters(const std::string& table, const std::string& reloptions);

// ALTER TABLE table OWNER TO owner; `owner` unquoted.
std::string owner_to(const std::string& table, const std::string& owner);

// GRANT privilege ON table TO grantee [WITH GRANT OPTION]; `grantee` quoted or PUBLIC.
std::string grant(const std::string& privilege, const std::string& table,
                  const std::string& grantee, bool grantable);

std::string enable_row_security(const std::string& table);

// `definition` (pg_get_triggerdef of a trigger on the table, which it names as `table`) made to
// create the same trigger on `shadow`; nullopt when the definition does not read as expected.
std::optional<std::string> retarget_trigger(const std::string& definition, const std::string& table,
                                            const std::string& shadow);

// Keeps the shadow's triggers from firing while it fills: the row images it receives already
// carry what the triggers did on the original.
std::string disable_user_triggers(const std::string& shadow);

// A row-level security policy as pg_policies describes it; `name` unquoted, `roles` quoted and
// comma separated (or PUBLIC), `using_expression` and `check` as pg_policies prints them.
struct PolicyDefinition {
  std::string name;
  std::string permissive = "PERMISSIVE";
  std::string command = "ALL";
  std::string roles = "PUBLIC";
  std::optional<std::string> using_expression;
  std::optional<std::string> check;
};
std::string create_policy(const std::string& table, const PolicyDefinition& policy);

// DROP INDEX name, `name` quoted and qualified.
std::string drop_index(const std::string& name);

// CREATE INDEX ON shadow tail: `tail` is an index definition without its CREATE INDEX name ON
// table prefix ("USING btree (k)"), so the server names the index anew.
std::string create_index_on(const std::string& shadow, const std::string& tail);

// ALTER TABLE table DROP CONSTRAINT name and ADD CONSTRAINT name definition; `name` quoted,
// `definition` as pg_get_constraintdef prints it.
std::string drop_constraint(const std::string& table, const std::string& name);
std::string add_constraint(const std::string& table, const std::string& name,
                           const std::string& definition);

std::string drop_table(const std::string& table);
std::string drop_table_if_exists(const std::string& table);

// What the copy writes into a shadow column of type `shadow_type` from the table's column
// `column` (quoted) of type `source_type`: the ALTER's USING expression cast to the new type
// when it gave one, a cast when the type changed, else the column itself.
std::string column_value(const std::string& column, const std::string& source_type,
                         const std::string& shadow_type,
                         const std::optional<std::string>& using_expression);

// The shadow's (bound to $1) columns that have a default and are not among the table's columns
// (unquoted, a text array bound to $2): the quoted name, format_type() and the default's text.
// Generated columns are left out: nothing writes them.
std::string added_defaults();

// The name of the column add_probe_column() adds, and what probed_default() reads.
inline constexpr const char* kDefaultProbe = "sluice_default_probe";

// CREATE TABLE probe (): an empty table with no column, made and dropped again (by rolling back
// its transaction) to ask the server about a default without touching the shadow, whose rewrite
// a volatile default would cause.
std::string create_probe_table(const std::string& probe);

// ALTER TABLE probe ADD COLUMN sluice_default_probe type DEFAULT expression. For a default that
// is not volatile, PostgreSQL evaluates it once and keeps the value in the catalog
// (pg_attribute.attmissingval), as its own ADD COLUMN does for the existing rows.
std::string add_probe_column(const std::string& probe, const std::string& type,
                             const std::string& expression);

// The probe column's value (of `type`) as text when the server kept one, on the probe table
// bound to $1; no row when the default is volatile.
std::string probed_default(const std::string& type);

// The column's value in some row of `table`, as text; no row when the table is empty.
std::string any_value(const std::string& table, const std::string& column);

}  // namespace sluice::postgres

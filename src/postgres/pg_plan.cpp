#include "src/postgres/pg_plan.h"

#include <algorithm>

#include "replication/postgres/slot_manager.h"
#include "src/postgres/pg_cut_over.h"
#include "src/postgres/pg_key.h"
#include "src/postgres/pg_preflight.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/postgres/pg_revert.h"
#include "src/postgres/pg_shadow.h"
#include "src/postgres/pg_shadow_sql.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;

// The columns the change stream carries, in its order: pgoutput leaves out dropped and
// generated columns, and so does the copy (the shadow recomputes generated ones).
constexpr const char* kColumns =
    "SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = "
    "$1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
    "ORDER BY a.attnum";

// The key the change stream identifies rows by: the replica identity index when one is set,
// else the primary key.
constexpr const char* kKey =
    "SELECT ic.relname, a.attname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND "
    "CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END "
    "JOIN pg_class ic ON ic.oid = i.indexrelid "
    "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
    "WHERE c.oid = $1::oid ORDER BY k.ord";

// The views reading the table, with each column they read.
constexpr const char* kViewColumns =
    "SELECT DISTINCT r.ev_class::regclass::text, a.attname FROM pg_depend d JOIN "
    "pg_rewrite r ON r.oid = d.objid JOIN pg_attribute a ON a.attrelid = d.refobjid AND "
    "a.attnum = d.refobjsubid WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid "
    "= 'pg_class'::regclass AND d.refobjid = $1::oid AND r.ev_class <> $1::oid ORDER BY 1, "
    "2";

// The table's comment, storage parameters, owner (and whether it is another role than the
// one running sluice), and row security.
constexpr const char* kTableFacts =
    "SELECT obj_description(c.oid, 'pg_class'), array_to_string(c.reloptions, ', '), "
    "pg_get_userbyid(c.relowner), c.relowner <> (SELECT oid FROM pg_roles WHERE "
    "rolname = current_user), c.relrowsecurity, c.relforcerowsecurity "
    "FROM pg_class c WHERE c.oid = $1::oid";

constexpr const char* kGrants =
    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid("
    "a.grantee)) END, a.privilege_type, a.is_grantable FROM pg_class c, "
    "aclexplode(c.relacl) a WHERE c.oid = $1::oid AND a.grantee <> c.relowner "
    "ORDER BY 1, 2";

constexpr const char* kTriggers =
    "SELECT pg_get_triggerdef(t.oid), quote_ident(t.tgname), t.tgenabled, format('%I.%I', "
    "n.nspname, c.relname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN "
    "pg_namespace n ON n.oid = c.relnamespace WHERE t.tgrelid = $1::oid AND NOT "
    "t.tgisinternal ORDER BY t.tgname";

constexpr const char* kPolicies =
    "SELECT policyname, permissive, cmd, (SELECT string_agg(CASE WHEN r = 'public' THEN "
    "'PUBLIC' ELSE quote_ident(r) END, ', ') FROM unnest(roles) r), qual, with_check "
    "FROM pg_policies WHERE schemaname = $1 AND tablename = $2 ORDER BY policyname";

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void describe_source(Connection& main, const ddl::QualifiedName& table, const std::string& oid,
                     TableSchema& source) {
  source = TableSchema{};
  source.name = table;
  for (const ResultRow& row : main.query(kColumns, {oid})) {
    ColumnInfo column;
    column.name = row[0].value_or("");
    column.data_type = row[1].value_or("");
    column.column_type = row[2].value_or("");
    column.nullable = row[3].value_or("t") == "t";
    source.columns.push_back(column);
  }
  const std::vector<ResultRow> key = main.query(kKey, {oid});
  if (key.empty()) {
    throw Error(ExitCode::preflight_failed,
                "table " + ident(table) +
                    " has no primary key (or replica identity index) for the copy to walk; add "
                    "a primary key before migrating online");
  }
  source.key_name = key.front()[0].value_or("");
  for (const ResultRow& row : key) {
    const std::optional<std::size_t> column = source.find(row[1].value_or(""));
    if (!column) {
      throw Error(ExitCode::preflight_failed, "the key " + ident(source.key_name) +
                                                  " uses an expression or generated column; "
                                                  "sluice walks plain key columns only");
    }
    source.key_columns.push_back(*column);
  }
}

// Refuses a change that would leave the copy and the change stream without the key they match
// rows by.
void refuse_key_change(const RebuildPlan& plan) {
  // The analysis sees only a constraint's name; whether it is the key is known here. (The
  // shadow's own key constraint has another name, so the server would refuse the drop there
  // only after the run had been recorded.)
  if (contains(plan.analysis.dropped_indexes, plan.source.key_name)) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER drops " + ident(plan.source.key_name) +
                    ", the key the copy and the change stream use to match rows; sluice does "
                    "not change the primary key online yet (changing its columns' type is "
                    "supported)");
  }
  for (std::size_t column : plan.source.key_columns) {
    if (contains(plan.analysis.dropped_columns, plan.source.columns[column].name)) {
      throw Error(ExitCode::preflight_failed,
                  "the ALTER drops the key column " + ident(plan.source.columns[column].name) +
                      "; sluice needs the key in both the old and the new table");
    }
  }
}

// Refuses a change to a column a view reads: the swap re-creates views unchanged.
void refuse_view_change(Connection& main, const RebuildPlan& plan, const std::string& oid) {
  for (const ResultRow& use : main.query(kViewColumns, {oid})) {
    const std::string column = use[1].value_or("");
    if (contains(plan.analysis.dropped_columns, column) ||
        contains(plan.analysis.modified_columns, column)) {
      throw Error(ExitCode::preflight_failed,
                  "the view " + use[0].value_or("?") + " reads column " + ident(column) +
                      ", which the ALTER drops or changes, so it cannot be re-created on the new "
                      "table unchanged; drop the view for the migration and re-create it "
                      "afterwards");
    }
  }
}

// The schema and name of the table (oid $1) and of every relation the swap renames with the old
// suffix: its indexes and the sequences it owns.
constexpr const char* kSwappedRelations =
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = $1::oid OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = "
    "$1::oid) OR (c.relkind = 'S' AND c.oid IN (SELECT objid FROM pg_depend WHERE refobjid = "
    "$1::oid AND refclassid = 'pg_class'::regclass AND classid = 'pg_class'::regclass AND "
    "deptype IN ('a', 'i')))";

// The first old suffix under which no name the swap gives the table, its indexes and its
// sequences is taken (RebuildOptions::old_suffix).
std::string pick_suffix(Connection& main, const RebuildOptions& options, const PgTablePlan& t) {
  std::vector<ddl::QualifiedName> renamed;
  for (const ResultRow& row : main.query(kSwappedRelations, {t.oid})) {
    renamed.push_back({row[0].value_or(""), row[1].value_or("")});
  }
  return pick_old_suffix(options, t.quoted_table, [&](const std::string& suffix) {
    return std::any_of(renamed.begin(), renamed.end(), [&](const ddl::QualifiedName& name) {
      return relation_exists(main, {name.schema, derived_name(name.name, suffix)});
    });
  });
}

// A resumed run swaps to the old-table name it recorded, which must still be free (a new run
// picks a free one; what else an earlier run left is the preflight's kLeftoversCheck).
void refuse_taken_old_name(Connection& main, const PgTablePlan& table) {
  if (relation_exists(main, table.old)) {
    throw Error(ExitCode::preflight_failed,
                table.quoted_old +
                    " exists, yet the run to resume keeps its old table under that name; rename "
                    "or drop that table, then resume again");
  }
}

// The statements that make the shadow table: structure by LIKE, then the user's change, then
// what LIKE does not carry (table comment, storage parameters, owner, grants, row security,
// triggers, policies). Notes the triggers and FORCE ROW LEVEL SECURITY for the swap.
std::vector<std::string> shadow_statements(Connection& main, const RebuildPlan& plan,
                                           PgTablePlan& table) {
  const std::string& shadow = table.quoted_shadow;
  std::vector<std::string> statements = {create_like(shadow, table.quoted_table),
                                         alter_table(shadow, plan.analysis.clauses)};
  const ResultRow facts = main.query(kTableFacts, {table.oid}).front();
  if (facts[0]) {
    statements.push_back(comment_on_table(shadow, *facts[0]));
  }
  if (facts[1] && !facts[1]->empty()) {
    statements.push_back(set_storage_parameters(shadow, *facts[1]));
  }
  if (facts[3].value_or("f") == "t") {
    statements.push_back(owner_to(shadow, facts[2].value_or("")));
  }
  for (const ResultRow& row : main.query(kGrants, {table.oid})) {
    statements.push_back(
        grant(row[1].value_or(""), shadow, row[0].value_or(""), row[2].value_or("f") == "t"));
  }
  if (facts[4].value_or("f") == "t") {
    statements.push_back(enable_row_security(shadow));
  }
  table.force_row_security = facts[5].value_or("f") == "t";
  // Triggers fire on the new table once it is live; while it fills they stay disabled.
  table.triggers.clear();
  for (const ResultRow& trigger : main.query(kTriggers, {table.oid})) {
    const std::string definition = trigger[0].value_or("");
    const std::optional<std::string> on_shadow =
        retarget_trigger(definition, trigger[3].value_or(""), shadow);
    if (!on_shadow) {
      throw Error(ExitCode::preflight_failed,
                  "cannot re-create trigger " + trigger[1].value_or("?") +
                      " on the new table (unexpected definition: " + definition +
                      "); drop it for the migration and re-create it afterwards");
    }
    statements.push_back(*on_shadow);
    table.triggers.push_back({trigger[1].value_or(""), trigger[2].value_or("O")});
  }
  if (!table.triggers.empty()) {
    statements.push_back(disable_user_triggers(shadow));
  }
  for (const ResultRow& row : main.query(kPolicies, {table.table.schema, table.table.name})) {
    PolicyDefinition policy;
    policy.name = row[0].value_or("");
    policy.permissive = row[1].value_or("PERMISSIVE");
    policy.command = row[2].value_or("ALL");
    policy.roles = row[3].value_or("PUBLIC");
    policy.using_expression = row[4];
    policy.check = row[5];
    statements.push_back(create_policy(shadow, policy));
  }
  return statements;
}

// Makes the shadow table and applies the ALTER to it in a transaction that is rolled back
// (PostgreSQL's DDL is transactional): a change the server refuses is refused by the plan,
// before anything is created or recorded.
void validate_alter(Connection& main, const RebuildPlan& plan, const PgTablePlan& table) {
  Transaction transaction(main);
  try {
    create_altered_shadow(main, plan, table);
  } catch (const ServerError& error) {
    throw Error(ExitCode::usage, "the ALTER does not apply to " + table.quoted_table + " (" +
                                     error.server_message() + "); fix --alter");
  }
}

}  // namespace

void plan_rebuild(Connection& main, const RebuildOptions& options, const ddl::QualifiedName& table,
                  RebuildPlan& plan, PgTablePlan& table_plan) {
  run_preflight(main, table).refuse_unless_ready(options.resume ? kLeftoversCheck : "");
  // A revert's change is what turns the table back into the old table it adopted.
  plan.analysis =
      options.reverting_old_table.empty()
          ? analyze_alter_option(ddl::Dialect::postgres, options.alter)
          : revert_analysis(main, table, {table.schema, derived_name(table.name, "_new")});
  if (plan.analysis.adds_unique_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER adds a UNIQUE, PRIMARY KEY or EXCLUDE constraint, and copying into it "
                "would silently drop conflicting rows; deduplicate and add the constraint with "
                "plain DDL (CREATE UNIQUE INDEX CONCURRENTLY), or add a non-unique index");
  }
  if (plan.analysis.changes_primary_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER changes the primary key, which the copy and the change stream use to "
                "match rows; sluice does not change it online yet (changing its columns' type is "
                "supported)");
  }
  plan.dialect = ddl::Dialect::postgres;
  plan.alter = options.alter;
  PgTablePlan& t = table_plan;
  t = PgTablePlan{};
  if (!options.reverting_old_table.empty()) {
    t.adopted_old = ddl::QualifiedName{table.schema, options.reverting_old_table};
  }
  t.oid = main.query_value("SELECT $1::regclass::oid::text", {ident(table)}).value_or("");
  describe_source(main, table, t.oid, plan.source);
  plan.shadow = {table.schema, derived_name(table.name, "_new")};
  t.table = table;
  t.quoted_table = ident(table);
  plan.old_suffix = pick_suffix(main, options, t);
  plan.old = {table.schema, derived_name(table.name, plan.old_suffix)};
  t.old_suffix = plan.old_suffix;
  t.shadow = plan.shadow;
  t.old = plan.old;
  t.quoted_shadow = ident(plan.shadow);
  t.quoted_old = ident(plan.old);
  t.named_by_alter = plan.analysis.added_indexes;
  t.definition = read_definition(main, t.oid);
  refuse_key_change(plan);
  refuse_taken_old_name(main, t);
  refuse_view_change(main, plan, t.oid);
  plan.mapped_columns.clear();
  for (std::size_t i = 0; i < plan.source.columns.size(); ++i) {
    const ColumnInfo& column = plan.source.columns[i];
    if (!contains(plan.analysis.dropped_columns, column.name)) {
      plan.mapped_columns.push_back(i);
      t.columns.push_back(PgColumn{ident(column.name), column.column_type, "", "", true});
    }
  }
  for (std::size_t column : plan.source.key_columns) {
    const auto found = std::find(plan.mapped_columns.begin(), plan.mapped_columns.end(), column);
    t.key.push_back(ident(plan.source.columns[column].name));
    t.key_in_mapped.push_back(static_cast<std::size_t>(found - plan.mapped_columns.begin()));
  }
  const std::string estimate =
      main.query_value("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::oid",
                       {t.oid})
          .value_or("0");
  plan.estimated_rows = std::stoull(estimate);
  plan.try_instant = plan.analysis.instant_candidate;
  // A change the server makes in its catalog alone never depends on the key.
  if (!plan.try_instant || options.force_rebuild) {
    for (const KeyColumnFacts& column : read_key_facts(main, t.oid)) {
      if (std::optional<std::string> refusal = key_refusal(column)) {
        throw Error(ExitCode::preflight_failed, *refusal);
      }
    }
  }
  plan.shadow_ddl = shadow_statements(main, plan, t);
  if (!options.resume) {
    validate_alter(main, plan, t);
  }
}

}  // namespace sluice::postgres

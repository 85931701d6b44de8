#include "src/postgres/pg_shadow.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/postgres/pg_revert.h"
#include "src/postgres/pg_shadow_sql.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;

// The tables of schema $1 by name, with their oids.
constexpr const char* kTablesOfSchema =
    "SELECT c.relname, c.oid::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')";

constexpr const char* kShadowColumnType =
    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
    "$1::regclass AND attname = $2 AND attnum > 0 AND NOT attisdropped AND attgenerated = ''";

// Whether a type has a default hash operator class (json, point and arrays of them do not).
constexpr const char* kHashable =
    "SELECT 1 FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE "
    "a.amname = 'hash' AND c.opcdefault AND c.opcintype = $1::regtype";

// The shadow's indexes that no constraint needs: their definitions, qualified names and
// whether they are unique.
constexpr const char* kDeferrableIndexes =
    "SELECT pg_get_indexdef(i.indexrelid), quote_ident(n.nspname) || '.' || "
    "quote_ident(c.relname), i.indisunique::text FROM pg_index i JOIN pg_class c ON c.oid = "
    "i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid = "
    "$1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = "
    "i.indexrelid) ORDER BY c.relname";

// The shadow's primary key and unique constraints, the primary key first: their quoted names,
// definitions and the qualified names of their indexes.
constexpr const char* kKeyConstraints =
    "SELECT quote_ident(k.conname), pg_get_constraintdef(k.oid), quote_ident(n.nspname) || '.' "
    "|| quote_ident(c.relname) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conindid JOIN "
    "pg_namespace n ON n.oid = c.relnamespace WHERE k.conrelid = $1::regclass AND k.contype IN "
    "('p', 'u') ORDER BY k.contype, k.conname";

// Index builds get at least this much memory (kB): a sort that fits in memory is the fastest.
constexpr const char* kIndexBuildMemory =
    "SELECT set_config('maintenance_work_mem', greatest(setting::bigint, 262144)::text, false) "
    "FROM pg_settings WHERE name = 'maintenance_work_mem'";

// The original's indexes that no constraint needs, other than those on a column the ALTER
// drops ($2) and those the shadow ($3) has already, as definitions without their "CREATE
// INDEX name ON table " prefix.
std::string missing_indexes_query() {
  const std::string tail =
      "regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE INDEX \\S+ ON \\S+ ', '')";
  return "SELECT " + tail +
         " FROM pg_index i WHERE i.indrelid = $1::oid AND NOT i.indisunique AND NOT EXISTS "
         "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AND NOT EXISTS "
         "(SELECT 1 FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND "
         "a.attnum = d.refobjsubid WHERE d.classid = 'pg_class'::regclass AND d.objid = "
         "i.indexrelid AND d.refobjid = i.indrelid AND a.attname = ANY($2::text[])) AND " +
         tail + " NOT IN (SELECT " + tail +
         " FROM pg_index i WHERE i.indrelid = $3::regclass) ORDER BY 1";
}

constexpr const char* kSequenceName =
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = $1::regclass";

constexpr const char* kSlotActive =
    "SELECT active::text FROM pg_replication_slots WHERE slot_name = $1";

std::optional<std::string> oid_of(Connection& main, const ddl::QualifiedName& name) {
  return main.query_value(
      "SELECT c.oid::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2",
      {name.schema, name.name});
}

}  // namespace

void create_altered_shadow(Connection& main, const RebuildPlan& plan, const PgTablePlan& table) {
  main.execute(plan.shadow_ddl.at(0));
  std::map<std::string, std::string> names;
  for (const ResultRow& row :
       main.query(like_constraint_names(), {table.quoted_table, table.quoted_shadow})) {
    names.emplace(row[0].value_or(""), row[1].value_or(""));
  }
  std::vector<std::string> clauses;
  for (const std::string& clause : plan.analysis.clauses) {
    clauses.push_back(retarget_constraint(clause, names));
  }
  main.execute(alter_table(table.quoted_shadow, clauses));
}

PgShadow::PgShadow(const Dsn& dsn, const std::optional<std::string>& password,
                   const RebuildPlan& plan, PgTablePlan& table)
    : dsn_(dsn), password_(password), plan_(plan), table_(table) {}

void PgShadow::create(Connection& main, bool replace) {
  try {
    Transaction transaction(main);
    if (replace) {
      main.execute(drop_table_if_exists(table_.quoted_shadow));
    }
    create_altered_shadow(main, plan_, table_);
    for (std::size_t i = 2; i < plan_.shadow_ddl.size(); ++i) {
      main.execute(plan_.shadow_ddl[i]);
    }
    transaction.commit();
  } catch (const ServerError& error) {
    throw Error(ExitCode::usage,
                std::string("the server refused the ALTER on the shadow table: ") + error.what());
  }
  try {
    describe(main);
  } catch (const Error&) {
    drop(main);
    throw;
  }
  // Every index is built after the bulk copy, in one sorted pass, which is much faster than
  // maintaining it row by row. Nothing needs them during the copy: under one snapshot no row
  // is applied or looked up. The key's and unique ones are built before the stream is applied
  // (the applier finds rows by them), the others during verification. Exclusion constraints
  // stay: rare, and their indexes are not plain to rebuild.
  deferred_indexes_.clear();
  key_indexes_.clear();
  for (const ResultRow& constraint : main.query(kKeyConstraints, {table_.quoted_shadow})) {
    const std::string name = constraint[0].value_or("");
    main.execute(drop_constraint(table_.quoted_shadow, name));
    key_indexes_.push_back({add_constraint(table_.quoted_shadow, name, constraint[1].value_or("")),
                            constraint[2].value_or("")});
  }
  for (const ResultRow& index : main.query(kDeferrableIndexes, {table_.quoted_shadow})) {
    main.execute(drop_index(index[1].value_or("")));
    if (index[2] == "true") {
      key_indexes_.push_back({index[0].value_or(""), index[1].value_or("")});
    } else {
      deferred_indexes_.push_back({index[0].value_or(""), index[1].value_or("")});
    }
  }
  spdlog::info("created shadow table {} without its {} indexes, built after the copy",
               table_.quoted_shadow, key_indexes_.size() + deferred_indexes_.size());
}

void PgShadow::describe(Connection& main) {
  // Evaluated over the original row by the copy and over the row images of the change stream
  // alike.
  const std::map<std::string, std::string> expressions = using_expressions(plan_.analysis.clauses);
  for (std::size_t i = 0; i < table_.columns.size(); ++i) {
    const ColumnInfo& info = plan_.source.columns[plan_.mapped_columns[i]];
    PgColumn& column = table_.columns[i];
    const std::optional<std::string> shadow_type =
        main.query_value(kShadowColumnType, {table_.quoted_shadow, info.name});
    if (!shadow_type) {
      throw Error(ExitCode::usage, "the ALTER turns column " + column.name +
                                       " into a generated column or removes it in a way sluice "
                                       "did not recognise; drop it explicitly with DROP COLUMN");
    }
    const auto found = expressions.find(info.name);
    column.shadow_type = *shadow_type;
    column.value =
        column_value(column.name, info.column_type, *shadow_type,
                     found == expressions.end() ? std::nullopt : std::optional(found->second));
    column.hashable = main.query_value(kHashable, {*shadow_type}).has_value();
  }
  table_.sequences.clear();
  for (const ColumnInfo& column : plan_.source.columns) {
    const std::optional<std::string> source = main.query_value(
        "SELECT pg_get_serial_sequence($1, $2)", {table_.quoted_table, column.name});
    if (!source) {
      continue;
    }
    SequenceMove move{
        column.name,
        *source,
        main.query_value("SELECT relname FROM pg_class WHERE oid = $1::regclass", {*source})
            .value_or(""),
        std::nullopt,
        "",
        ""};
    std::optional<std::string> shadow = main.query_value("SELECT pg_get_serial_sequence($1, $2)",
                                                         {table_.quoted_shadow, column.name});
    if (shadow && *shadow != *source) {
      move.shadow = shadow;
      const ResultRow name = main.query(kSequenceName, {*shadow}).at(0);
      move.schema = name[0].value_or("");
      move.shadow_name = name[1].value_or("");
    }
    table_.sequences.push_back(move);
  }
  // A revert's shadow is the old table: its rows have their own values of the columns the
  // migration dropped, and rows inserted since get each column's default as an INSERT would.
  table_.filled.clear();
  if (!table_.adopted_old) {
    fill_stable_defaults(main);
  }
}

void PgShadow::fill_stable_defaults(Connection& main) {
  table_.filled.clear();
  std::vector<std::optional<std::string>> kept;
  for (const std::size_t i : plan_.mapped_columns) {
    kept.emplace_back(plan_.source.columns[i].name);
  }
  const std::string probe =
      quote_qualified(ddl::Dialect::postgres,
                      {table_.shadow.schema, derived_name(table_.table.name, "_sluice_probe")});
  for (const ResultRow& column :
       main.query(added_defaults(), {table_.quoted_shadow, array_literal(kept)})) {
    const std::string name = column[0].value_or("");
    const std::string type = column[1].value_or("");
    std::vector<ResultRow> value;
    try {
      // Rolled back: the probe table never exists outside this transaction.
      Transaction transaction(main);
      main.execute(create_probe_table(probe));
      main.execute(add_probe_column(probe, type, column[2].value_or("")));
      value = main.query(probed_default(type), {probe});
    } catch (const ServerError& error) {
      throw Error(ExitCode::preflight_failed,
                  "could not ask the server whether the default of new column " + name +
                      " is volatile, on an empty table " + probe + " made and dropped at once (" +
                      error.what() + "); if a table of that name exists, rename it");
    }
    if (value.empty()) {
      continue;  // volatile: each row gets its own value, as the server's own ALTER gives it
    }
    const std::vector<ResultRow> copied = main.query(any_value(table_.quoted_shadow, name));
    const std::optional<std::string>& text = copied.empty() ? value[0][0] : copied[0][0];
    table_.filled.push_back({name, (text ? quote_literal(*text) : "NULL") + "::" + type});
    spdlog::info(
        "existing rows get one value of the new column {}'s default, as the server's own "
        "ALTER gives them",
        name);
  }
}

void PgShadow::attach(Connection& main) {
  describe(main);
  deferred_indexes_.clear();
  if (table_.adopted_old) {
    // The old table has its own indexes, which the revert restores with it.
    spdlog::info("reverting into the old table, which is {} until the swap", table_.quoted_shadow);
    return;
  }
  // The killed run built the shadow without the indexes that no constraint needs (they are
  // built after the copy): the original's, minus those on a dropped column and those the
  // shadow has already (the run died while building them).
  const auto& dropped = plan_.analysis.dropped_columns;
  for (const ResultRow& index : main.query(
           missing_indexes_query(),
           {table_.oid,
            array_literal(std::vector<std::optional<std::string>>(dropped.begin(), dropped.end())),
            table_.quoted_shadow})) {
    deferred_indexes_.push_back(
        {create_index_on(table_.quoted_shadow, index[0].value_or("")), std::nullopt});
  }
  spdlog::info("resuming into the shadow table {} ({} indexes still to build)",
               table_.quoted_shadow, deferred_indexes_.size());
}

void PgShadow::drop(Connection& main) {
  if (table_.adopted_old) {
    // A revert's shadow is the old table: given its name back, never dropped.
    restore_old_table(main, table_.table, *table_.adopted_old, table_.shadow);
    return;
  }
  main.execute(drop_table_if_exists(table_.quoted_shadow));
}

namespace {

// Builds each of `indexes` the shadow lacks and forgets it once built: a redo after a lost
// session builds only the rest, and skips one the lost attempt committed.
template <typename Index>
void build_held(Connection& session, std::vector<Index>& indexes, const char* what) {
  if (indexes.empty()) {
    return;
  }
  session.query(kIndexBuildMemory);
  while (!indexes.empty()) {
    const Index& index = indexes.front();
    if (!index.name || !session.query_value("SELECT to_regclass($1)::text", {*index.name})) {
      const auto started = std::chrono::steady_clock::now();
      session.execute(index.create);
      spdlog::info("built {} of the shadow table in {} ms: {}", what,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count(),
                   index.create);
    }
    indexes.erase(indexes.begin());
  }
  session.execute("RESET maintenance_work_mem");
}

}  // namespace

void PgShadow::build_key_indexes(Connection& session) {
  build_held(session, key_indexes_, "a key or unique index");
}

void PgShadow::build_deferred_indexes(Connection& session) {
  build_held(session, deferred_indexes_, "an index");
}

namespace {

// Drops the reverse slot of `table` that nothing can read any more, saying `why` when it did.
void drop_stale_reverse_slot(Connection& main, const pg::ConnectionParams& params,
                             const ddl::QualifiedName& table, const std::string& why) {
  try {
    if (drop_reverse_slot(main, params, table)) {
      spdlog::warn("{}; dropped its reverse replication slot", why);
    }
  } catch (const Error& error) {
    spdlog::warn(
        "{}, but its reverse replication slot could not be dropped ({}); drop it with "
        "sluice slots --drop",
        why, error.what());
  }
}

}  // namespace

bool PgShadow::complete_interrupted_swap(Connection& main, const ddl::QualifiedName& table,
                                         const std::string& old_suffix) {
  // The swap is one transaction: it happened or it did not. The slot is named after the oid of
  // the table the run started on, which after the swap is the old table's.
  const ddl::QualifiedName old{table.schema, derived_name(table.name, old_suffix)};
  const ddl::QualifiedName shadow{table.schema, derived_name(table.name, "_new")};
  const std::optional<std::string> old_oid = oid_of(main, old);
  if (!old_oid || relation_exists(main, shadow)) {
    return false;
  }
  // A revert's stream is the reverse slot of the table it swapped out.
  std::string object = pg::sluice_object_name(slot_name(*old_oid));
  std::optional<std::string> active = main.query_value(kSlotActive, {object});
  const bool forward = active.has_value();
  if (!forward) {
    object = pg::sluice_object_name(revert_slot_name(*old_oid));
    active = main.query_value(kSlotActive, {object});
  }
  if (!active) {
    return false;
  }
  spdlog::info(
      "the interrupted run had swapped the tables already: {} has the new schema, the old "
      "table is kept as {}",
      ident(table), ident(old));
  // A slot still read by this process is dropped when its stream ends; one left by a killed run
  // is dropped here.
  const pg::ConnectionParams params{dsn_.pg_conninfo, password_};
  if (*active == "false") {
    try {
      pg::drop_slot(params, object);
      pg::drop_publication(params, object);
    } catch (const replication::StreamError& error) {
      spdlog::warn("could not drop {} ({}); run sluice cleanup", object, error.what());
    }
  }
  // Where the application's writes to the new table start was not read from the swap, so a
  // reverse slot made for it only retains WAL, as does the previous run's on the table a forward
  // run swapped out (a revert's was its stream, dropped above).
  drop_stale_reverse_slot(main, params, table,
                          "the run cannot be reverted: the swap was found done afterwards, "
                          "without the position where the writes to the new table start");
  if (forward) {
    drop_stale_reverse_slot(main, params, old,
                            "the previous run of the table can no longer be reverted");
  }
  return true;
}

std::vector<std::string> PgShadow::cleanup(Connection& main, const ddl::QualifiedName& table) {
  std::vector<std::string> dropped;
  const pg::ConnectionParams params{dsn_.pg_conninfo, password_};
  // The slot is named after the oid of the table as it was when the run started: the table
  // itself, or one of its old tables when the run died between its swap and dropping the slot.
  // A reverse slot (pg_revert.h) is a leftover only on the shadow (the run died before its swap)
  // or an old table (a revert died after its own): the live table's is what sluice revert reads.
  const ddl::QualifiedName shadow{table.schema, derived_name(table.name, "_new")};
  std::vector<std::string> names{table.name, shadow.name};
  for (int generation = 1; generation <= kMaxOldTables; ++generation) {
    names.push_back(derived_name(table.name, old_suffix(generation)));
  }
  std::vector<std::string> objects;
  for (const ResultRow& row : main.query(kTablesOfSchema, {table.schema})) {
    const std::string name = row[0].value_or("");
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      continue;
    }
    objects.push_back(pg::sluice_object_name(slot_name(row[1].value_or(""))));
    if (name != table.name) {
      objects.push_back(pg::sluice_object_name(revert_slot_name(row[1].value_or(""))));
    }
  }
  for (const std::string& object : objects) {
    const std::optional<std::string> active = main.query_value(kSlotActive, {object});
    if (active == "true") {
      throw Error(ExitCode::preflight_failed,
                  "replication slot " + object +
                      " is in use: a sluice alter on this table is still running; stop it "
                      "first (cleanup only removes what a stopped run left)");
    }
    try {
      if (active) {
        pg::drop_slot(params, object);
        dropped.push_back("replication slot " + object);
      }
      if (main.query_value("SELECT 1 FROM pg_publication WHERE pubname = $1", {object})) {
        pg::drop_publication(params, object);
        dropped.push_back("publication " + object);
      }
    } catch (const replication::StreamError& error) {
      throw Error(ExitCode::failure, std::string("could not drop ") + object + ": " + error.what());
    }
  }
  if (relation_exists(main, shadow)) {
    main.execute(drop_table(ident(shadow)));
    dropped.push_back(ident(shadow));
  }
  return dropped;
}

}  // namespace sluice::postgres

#include "src/postgres/pg_rebuild.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <map>
#include <thread>

#include "ddl/ddl_error.h"
#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"
#include "src/key_order.h"
#include "src/postgres/pg_change_stream.h"
#include "src/postgres/pg_preflight.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;
using replication::Position;
using replication::Row;
using replication::Value;
using replication::ValueKind;
using std::chrono::milliseconds;

// PostgreSQL binds at most 65535 parameters per statement.
constexpr std::size_t kStatementParams = 30000;
// Rows per batched statement of the applier (one array parameter per column).
constexpr std::size_t kBatchRows = 10000;
constexpr const char* kLockTimeout = "55P03";
constexpr const char* kUniqueViolation = "23505";
constexpr const char* kDeadlock = "40P01";
constexpr const char* kIntegerTypes[] = {"int2", "int4", "int8"};

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::postgres, name);
}

std::string quote(const ddl::QualifiedName& name) {
  return ddl::quote_qualified(ddl::Dialect::postgres, name);
}

bool is_integer(const ColumnInfo& column) {
  return std::find(std::begin(kIntegerTypes), std::end(kIntegerTypes), column.data_type) !=
         std::end(kIntegerTypes);
}

// The bind text of a stream value: bytea travels as raw bytes inside sluice and as hex text to
// the server; everything else is already the server's text form.
std::optional<std::string> bind_text(const Value& value) {
  if (value.kind == ValueKind::null) {
    return std::nullopt;
  }
  if (value.kind != ValueKind::binary) {
    return value.text;
  }
  static const char* const digits = "0123456789abcdef";
  std::string hex = "\\x";
  hex.reserve(2 + 2 * value.text.size());
  for (unsigned char byte : value.text) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0xf];
  }
  return hex;
}

bool has_unchanged(const Row& row) {
  return std::any_of(row.begin(), row.end(),
                     [](const Value& value) { return value.kind == ValueKind::unchanged; });
}

std::string ms_setting(milliseconds timeout) {
  return "'" + std::to_string(std::max<long long>(1, timeout.count())) + "ms'";
}

// "_" + name + suffix, cut to PostgreSQL's 63-byte identifier limit.
std::string derived_name(const std::string& name, const std::string& suffix) {
  return ("_" + name).substr(0, 63 - suffix.size()) + suffix;
}

}  // namespace

PgRebuild::PgRebuild(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), password_(password) {
  main_ = open_session();
}

void PgRebuild::reconnect() {
  main_ = open_session();
  if (apply_) {
    apply_ = open_session();
  }
  spdlog::info("reconnected to {}", dsn_.display());
}

template <typename Unit>
auto PgRebuild::reconnecting(const char* what, Unit unit) {
  return retry_on_connection_loss(
      what, options_.reconnect, [this] { reconnect(); }, unit);
}

std::unique_ptr<Connection> PgRebuild::open_session() {
  auto connection = std::make_unique<Connection>(dsn_, password_);
  // Bounded lock waits everywhere: sluice gives way to the application rather than queue it.
  // UTC so that time values print the same on every session.
  connection->execute("SET lock_timeout = '10s'; SET TimeZone = 'UTC'");
  return connection;
}

bool PgRebuild::table_exists(const ddl::QualifiedName& name) {
  return relation_exists(*main_, name);
}

std::string PgRebuild::slot_name(const std::string& table_oid) const {
  return "alter_" + table_oid;
}

void PgRebuild::describe_source(const ddl::QualifiedName& table) {
  TableSchema& source = plan_.source;
  source = TableSchema{};
  source.name = table;
  source_types_.clear();
  // The columns the change stream carries, in its order: pgoutput leaves out dropped and
  // generated columns, and so does the copy (the shadow recomputes generated ones).
  for (const ResultRow& row : main_->query(
           "SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
           "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = "
           "$1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
           "ORDER BY a.attnum",
           {table_oid_})) {
    ColumnInfo column;
    column.name = row[0].value_or("");
    column.data_type = row[1].value_or("");
    column.column_type = row[2].value_or("");
    column.nullable = row[3].value_or("t") == "t";
    source.columns.push_back(column);
    source_types_.push_back(column.column_type);
  }
  // The key the change stream identifies rows by: the replica identity index when one is set,
  // else the primary key.
  const std::vector<ResultRow> key = main_->query(
      "SELECT ic.relname, a.attname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND "
      "CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END "
      "JOIN pg_class ic ON ic.oid = i.indexrelid "
      "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) "
      "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
      "WHERE c.oid = $1::oid ORDER BY k.ord",
      {table_oid_});
  if (key.empty()) {
    throw Error(ExitCode::preflight_failed,
                "table " + quote(table) +
                    " has no primary key (or replica identity index) for the copy to walk; add "
                    "a primary key before migrating online");
  }
  source.key_name = key.front()[0].value_or("");
  for (const ResultRow& row : key) {
    const std::optional<std::size_t> column = source.find(row[1].value_or(""));
    if (!column) {
      throw Error(ExitCode::preflight_failed, "the key " + quote(source.key_name) +
                                                  " uses an expression or generated column; "
                                                  "sluice walks plain key columns only");
    }
    const ColumnInfo& info = source.columns[*column];
    if (!is_integer(info) && info.data_type != "numeric") {
      throw Error(ExitCode::preflight_failed,
                  "the key column " + quote(info.name) + " is of type " + info.column_type +
                      "; sluice orders keys itself and supports integer and numeric key "
                      "columns on PostgreSQL so far");
    }
    source.key_columns.push_back(*column);
  }
}

ddl::QualifiedName PgRebuild::resolve_table(const std::string& table) {
  try {
    return ddl::parse_qualified_name(ddl::Dialect::postgres, table, "public");
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
}

std::optional<std::string> PgRebuild::oid_of(const ddl::QualifiedName& name) {
  return main_->query_value(
      "SELECT c.oid::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2",
      {name.schema, name.name});
}

bool PgRebuild::complete_interrupted_swap(const std::string& table) {
  // The swap is one transaction: it happened or it did not. The slot is named after the oid of
  // the table the run started on, which after the swap is the old table's.
  const ddl::QualifiedName name = resolve_table(table);
  const ddl::QualifiedName old{name.schema, derived_name(name.name, "_old")};
  const ddl::QualifiedName shadow{name.schema, derived_name(name.name, "_new")};
  const std::optional<std::string> old_oid = oid_of(old);
  if (!old_oid || table_exists(shadow)) {
    return false;
  }
  const std::string object = pg::sluice_object_name(slot_name(*old_oid));
  const std::optional<std::string> active = main_->query_value(
      "SELECT active::text FROM pg_replication_slots WHERE slot_name = $1", {object});
  if (!active) {
    return false;
  }
  spdlog::info(
      "the interrupted run had swapped the tables already: {} has the new schema, the old "
      "table is kept as {}",
      quote(name), quote(old));
  // A slot still read by this process is dropped when its stream ends; one left by a killed run
  // is dropped here.
  if (*active == "false") {
    const pg::ConnectionParams params{dsn_.pg_conninfo, password_};
    try {
      pg::drop_slot(params, object);
      pg::drop_publication(params, object);
    } catch (const replication::StreamError& error) {
      spdlog::warn("could not drop {} ({}); run sluice cleanup", object, error.what());
    }
  }
  return true;
}

void PgRebuild::drop_old_table() {
  main_->execute("DROP TABLE " + quote(plan_.old));
}

const RebuildPlan& PgRebuild::plan(const RebuildOptions& options) {
  options_ = options;
  const ddl::QualifiedName table = resolve_table(options.table);
  run_preflight(*main_, table).refuse_unless_ready();
  plan_.analysis = analyze_alter_option(ddl::Dialect::postgres, options.alter);
  if (plan_.analysis.adds_unique_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER adds a UNIQUE, PRIMARY KEY or EXCLUDE constraint, and copying into it "
                "would silently drop conflicting rows; deduplicate and add the constraint with "
                "plain DDL (CREATE UNIQUE INDEX CONCURRENTLY), or add a non-unique index");
  }
  if (plan_.analysis.changes_primary_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER changes the primary key, which the copy and the change stream use to "
                "match rows; sluice does not change it online yet (changing its columns' type is "
                "supported)");
  }
  plan_.dialect = ddl::Dialect::postgres;
  plan_.alter = options.alter;
  table_oid_ = main_->query_value("SELECT $1::regclass::oid::text", {quote(table)}).value_or("");
  describe_source(table);
  // The analysis sees only a constraint's name; whether it is the key is known here. (The
  // shadow's own key constraint has another name, so the server would refuse the drop there
  // only after the run had been recorded.)
  const auto& dropped = plan_.analysis.dropped_indexes;
  if (std::find(dropped.begin(), dropped.end(), plan_.source.key_name) != dropped.end()) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER drops " + quote(plan_.source.key_name) +
                    ", the key the copy and the change stream use to match rows; sluice does "
                    "not change the primary key online yet (changing its columns' type is "
                    "supported)");
  }
  plan_.shadow = {table.schema, derived_name(table.name, "_new")};
  plan_.old = {table.schema, derived_name(table.name, "_old")};
  quoted_source_ = quote(table);
  quoted_shadow_ = quote(plan_.shadow);
  if (!options.resume && table_exists(plan_.shadow)) {
    throw Error(ExitCode::preflight_failed,
                "the shadow table " + quoted_shadow_ +
                    " already exists, left by an earlier run; run sluice cleanup --table " +
                    options.table + " to drop it");
  }
  if (table_exists(plan_.old)) {
    throw Error(ExitCode::preflight_failed,
                quote(plan_.old) +
                    " exists (the old table of an earlier migration); drop it once you no "
                    "longer need it, then run sluice alter again");
  }
  const std::string slot = pg::sluice_object_name(slot_name(table_oid_));
  if (!options.resume &&
      main_->query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot})) {
    throw Error(ExitCode::preflight_failed,
                "replication slot " + slot + " exists: another sluice alter runs on " +
                    quoted_source_ +
                    ", or a crashed one left it (it keeps WAL); run sluice "
                    "cleanup --table " +
                    options.table + " once no run is active");
  }
  plan_.mapped_columns.clear();
  for (std::size_t i = 0; i < plan_.source.columns.size(); ++i) {
    const std::string& name = plan_.source.columns[i].name;
    const auto& dropped = plan_.analysis.dropped_columns;
    if (std::find(dropped.begin(), dropped.end(), name) == dropped.end()) {
      plan_.mapped_columns.push_back(i);
    }
  }
  key_.clear();
  key_in_mapped_.clear();
  for (std::size_t column : plan_.source.key_columns) {
    const auto found = std::find(plan_.mapped_columns.begin(), plan_.mapped_columns.end(), column);
    if (found == plan_.mapped_columns.end()) {
      throw Error(ExitCode::preflight_failed,
                  "the ALTER drops the key column " + quote(plan_.source.columns[column].name) +
                      "; sluice needs the key in both the old and the new table");
    }
    key_.push_back(quote(plan_.source.columns[column].name));
    key_in_mapped_.push_back(static_cast<std::size_t>(found - plan_.mapped_columns.begin()));
  }
  for (const ResultRow& use : main_->query(
           "SELECT DISTINCT r.ev_class::regclass::text, a.attname FROM pg_depend d JOIN "
           "pg_rewrite r ON r.oid = d.objid JOIN pg_attribute a ON a.attrelid = d.refobjid AND "
           "a.attnum = d.refobjsubid WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid "
           "= 'pg_class'::regclass AND d.refobjid = $1::oid AND r.ev_class <> $1::oid ORDER BY 1, "
           "2",
           {table_oid_})) {
    const std::string column = use[1].value_or("");
    const auto& dropped = plan_.analysis.dropped_columns;
    const auto& modified = plan_.analysis.modified_columns;
    if (std::find(dropped.begin(), dropped.end(), column) != dropped.end() ||
        std::find(modified.begin(), modified.end(), column) != modified.end()) {
      throw Error(ExitCode::preflight_failed,
                  "the view " + use[0].value_or("?") + " reads column " + quote(column) +
                      ", which the ALTER drops or changes, so it cannot be re-created on the new "
                      "table unchanged; drop the view for the migration and re-create it "
                      "afterwards");
    }
  }
  const std::string estimate =
      main_
          ->query_value("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::oid",
                        {table_oid_})
          .value_or("0");
  plan_.estimated_rows = std::stoull(estimate);
  plan_.try_instant = plan_.analysis.instant_candidate;
  plan_.shadow_ddl = copy_statements(table);
  return plan_;
}

// The statements that make the shadow table: structure by LIKE, then the user's change, then
// what LIKE does not carry (table comment, storage parameters, owner, grants, row security).
std::vector<std::string> PgRebuild::copy_statements(const ddl::QualifiedName& table) {
  std::string clauses;
  for (const std::string& clause : plan_.analysis.clauses) {
    clauses += (clauses.empty() ? "" : ", ") + clause;
  }
  std::vector<std::string> statements = {
      "CREATE TABLE " + quoted_shadow_ + " (LIKE " + quoted_source_ + " INCLUDING ALL)",
      "ALTER TABLE " + quoted_shadow_ + " " + clauses};
  const ResultRow facts =
      main_
          ->query(
              "SELECT obj_description(c.oid, 'pg_class'), array_to_string(c.reloptions, ', '), "
              "pg_get_userbyid(c.relowner), c.relowner <> (SELECT oid FROM pg_roles WHERE "
              "rolname = current_user), c.relrowsecurity, c.relforcerowsecurity "
              "FROM pg_class c WHERE c.oid = $1::oid",
              {table_oid_})
          .front();
  if (facts[0]) {
    statements.push_back("COMMENT ON TABLE " + quoted_shadow_ + " IS " + quote_literal(*facts[0]));
  }
  if (facts[1] && !facts[1]->empty()) {
    statements.push_back("ALTER TABLE " + quoted_shadow_ + " SET (" + *facts[1] + ")");
  }
  if (facts[3].value_or("f") == "t") {
    statements.push_back("ALTER TABLE " + quoted_shadow_ + " OWNER TO " +
                         quote(facts[2].value_or("")));
  }
  for (const ResultRow& grant :
       main_->query("SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid("
                    "a.grantee)) END, a.privilege_type, a.is_grantable FROM pg_class c, "
                    "aclexplode(c.relacl) a WHERE c.oid = $1::oid AND a.grantee <> c.relowner "
                    "ORDER BY 1, 2",
                    {table_oid_})) {
    statements.push_back("GRANT " + grant[1].value_or("") + " ON " + quoted_shadow_ + " TO " +
                         grant[0].value_or("") +
                         (grant[2].value_or("f") == "t" ? " WITH GRANT OPTION" : ""));
  }
  if (facts[4].value_or("f") == "t") {
    statements.push_back("ALTER TABLE " + quoted_shadow_ + " ENABLE ROW LEVEL SECURITY");
  }
  // FORCE would subject the copy itself to the policies; it is set at the swap.
  force_row_security_ = facts[5].value_or("f") == "t";
  // Triggers fire on the new table once it is live; while it fills they stay disabled: the row
  // images it receives already carry what the triggers did on the original.
  triggers_.clear();
  for (const ResultRow& trigger : main_->query(
           "SELECT pg_get_triggerdef(t.oid), quote_ident(t.tgname), t.tgenabled, format('%I.%I', "
           "n.nspname, c.relname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN "
           "pg_namespace n ON n.oid = c.relnamespace WHERE t.tgrelid = $1::oid AND NOT "
           "t.tgisinternal ORDER BY t.tgname",
           {table_oid_})) {
    std::string definition = trigger[0].value_or("");
    const std::string on = " ON " + trigger[3].value_or("") + " ";
    const std::size_t at = definition.find(on);
    if (at == std::string::npos) {
      throw Error(ExitCode::preflight_failed,
                  "cannot re-create trigger " + trigger[1].value_or("?") +
                      " on the new table (unexpected definition: " + definition +
                      "); drop it for the migration and re-create it afterwards");
    }
    definition.replace(at, on.size(), " ON " + quoted_shadow_ + " ");
    statements.push_back(definition);
    triggers_.emplace_back(trigger[1].value_or(""), trigger[2].value_or("O"));
  }
  if (!triggers_.empty()) {
    statements.push_back("ALTER TABLE " + quoted_shadow_ + " DISABLE TRIGGER USER");
  }
  for (const ResultRow& policy : main_->query(
           "SELECT policyname, permissive, cmd, (SELECT string_agg(CASE WHEN r = 'public' THEN "
           "'PUBLIC' ELSE quote_ident(r) END, ', ') FROM unnest(roles) r), qual, with_check "
           "FROM pg_policies WHERE schemaname = $1 AND tablename = $2 ORDER BY policyname",
           {table.schema, table.name})) {
    std::string statement = "CREATE POLICY " + quote(policy[0].value_or("")) + " ON " +
                            quoted_shadow_ + " AS " + policy[1].value_or("PERMISSIVE") + " FOR " +
                            policy[2].value_or("ALL") + " TO " + policy[3].value_or("PUBLIC");
    if (policy[4]) {
      statement += " USING (" + *policy[4] + ")";
    }
    if (policy[5]) {
      statement += " WITH CHECK (" + *policy[5] + ")";
    }
    statements.push_back(statement);
  }
  return statements;
}

bool PgRebuild::apply_in_place(const RebuildOptions& options) {
  std::string clauses;
  for (const std::string& clause : plan_.analysis.clauses) {
    clauses += (clauses.empty() ? "" : ", ") + clause;
  }
  for (int attempt = 1; attempt <= options.cutover_attempts; ++attempt) {
    try {
      main_->execute("BEGIN; SET LOCAL lock_timeout = " + ms_setting(options.cutover_lock_timeout) +
                     "; ALTER TABLE " + quoted_source_ + " " + clauses + "; COMMIT");
      spdlog::info("the server applied the change in its catalog; no copy needed");
      return true;
    } catch (const ServerError& error) {
      main_->execute("ROLLBACK");
      if (error.code() != kLockTimeout) {
        throw Error(ExitCode::usage, std::string("the server refused the ALTER: ") + error.what());
      }
      if (attempt == options.cutover_attempts) {
        break;
      }
      spdlog::warn("in-place ALTER could not get its lock within {} ms (attempt {}/{}); retrying",
                   options.cutover_lock_timeout.count(), attempt, options.cutover_attempts);
      std::this_thread::sleep_for(milliseconds(500 * attempt));
    }
  }
  throw Error(ExitCode::failure, "the in-place ALTER could not get its lock in " +
                                     std::to_string(options.cutover_attempts) +
                                     " attempts (the table stayed busy); the table is untouched; "
                                     "run sluice alter again at a quieter time");
}

void PgRebuild::create_shadow() {
  try {
    main_->execute("BEGIN");
    for (const std::string& statement : plan_.shadow_ddl) {
      main_->execute(statement);
    }
    main_->execute("COMMIT");
  } catch (const ServerError& error) {
    main_->execute("ROLLBACK");
    throw Error(ExitCode::usage,
                std::string("the server refused the ALTER on the shadow table: ") + error.what());
  }
  try {
    describe_shadow();
  } catch (const Error&) {
    drop_shadow();
    throw;
  }
  // Indexes that no constraint needs are built after the bulk copy, which is faster than
  // maintaining them row by row; the applier finds rows by the key's index, which stays.
  deferred_indexes_.clear();
  for (const ResultRow& index : main_->query(
           "SELECT pg_get_indexdef(i.indexrelid), quote_ident(n.nspname) || '.' || "
           "quote_ident(c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN "
           "pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid = $1::regclass AND NOT "
           "i.indisunique AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = "
           "i.indexrelid) ORDER BY c.relname",
           {quoted_shadow_})) {
    main_->execute("DROP INDEX " + index[1].value_or(""));
    deferred_indexes_.push_back(index[0].value_or(""));
  }
  apply_ = open_session();
  spdlog::info("created shadow table {}", quoted_shadow_);
}

void PgRebuild::describe_shadow() {
  // The value of each new column: the USING expression the ALTER gave, a cast where the type
  // changed, else the column itself. Evaluated over the original row by the copy and over the
  // row images of the change stream alike.
  const std::map<std::string, std::string> expressions = using_expressions(plan_.analysis.clauses);
  target_columns_.clear();
  select_columns_.clear();
  values_columns_.clear();
  select_expressions_.clear();
  shadow_types_.clear();
  shadow_hashed_.clear();
  source_hashed_.clear();
  for (std::size_t column : plan_.mapped_columns) {
    const ColumnInfo& info = plan_.source.columns[column];
    const std::optional<std::string> shadow_type = main_->query_value(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
        "$1::regclass AND attname = $2 AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
        {quoted_shadow_, info.name});
    if (!shadow_type) {
      throw Error(ExitCode::usage, "the ALTER turns column " + quote(info.name) +
                                       " into a generated column or removes it in a way sluice "
                                       "did not recognise; drop it explicitly with DROP COLUMN");
    }
    std::string value = quote(info.name);
    if (const auto found = expressions.find(info.name); found != expressions.end()) {
      value = "CAST((" + found->second + ") AS " + *shadow_type + ")";
    } else if (*shadow_type != info.column_type) {
      value = "CAST(" + value + " AS " + *shadow_type + ")";
    }
    select_expressions_.push_back(value);
    shadow_types_.push_back(*shadow_type);
    // Verification hashes values with their type's hash function; a type without one (json,
    // point, arrays of them) is hashed as its text.
    const bool hashable =
        main_
            ->query_value(
                "SELECT 1 FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE "
                "a.amname = 'hash' AND c.opcdefault AND c.opcintype = $1::regtype",
                {*shadow_type})
            .has_value();
    shadow_hashed_ += std::string(shadow_hashed_.empty() ? "" : ", ") + quote(info.name) +
                      (hashable ? "" : "::text");
    source_hashed_ += std::string(source_hashed_.empty() ? "" : ", ") +
                      (hashable ? value : "(" + value + ")::text");
    target_columns_ += (target_columns_.empty() ? "" : ", ") + quote(info.name);
    select_columns_ += (select_columns_.empty() ? "" : ", ") + value;
    values_columns_ += (values_columns_.empty() ? "" : ", ") + quote(info.name);
  }
  sequences_.clear();
  for (const ColumnInfo& column : plan_.source.columns) {
    const std::optional<std::string> source =
        main_->query_value("SELECT pg_get_serial_sequence($1, $2)", {quoted_source_, column.name});
    if (!source) {
      continue;
    }
    SequenceMove move{
        column.name, *source,
        main_->query_value("SELECT relname FROM pg_class WHERE oid = $1::regclass", {*source})
            .value_or(""),
        std::nullopt};
    std::optional<std::string> shadow =
        main_->query_value("SELECT pg_get_serial_sequence($1, $2)", {quoted_shadow_, column.name});
    if (shadow && *shadow != *source) {
      move.shadow = shadow;
    }
    sequences_.push_back(move);
  }
}

void PgRebuild::attach_shadow() {
  describe_shadow();
  // The killed run built the shadow without the indexes that no constraint needs (they are
  // built after the copy). Their definitions are the original's, minus those on a dropped
  // column and those the shadow has already (the run died while building them).
  const std::string definition_tail =
      "regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE INDEX \\S+ ON \\S+ ', '')";
  deferred_indexes_.clear();
  for (const ResultRow& index : main_->query(
           "SELECT " + definition_tail +
               " FROM pg_index i WHERE i.indrelid = $1::oid AND NOT i.indisunique AND NOT EXISTS "
               "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AND NOT EXISTS "
               "(SELECT 1 FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND "
               "a.attnum = d.refobjsubid WHERE d.classid = 'pg_class'::regclass AND d.objid = "
               "i.indexrelid AND d.refobjid = i.indrelid AND a.attname = ANY($2::text[])) AND " +
               definition_tail + " NOT IN (SELECT " + definition_tail +
               " FROM pg_index i WHERE i.indrelid = $3::regclass) ORDER BY 1",
           {table_oid_,
            array_literal(std::vector<std::optional<std::string>>(
                plan_.analysis.dropped_columns.begin(), plan_.analysis.dropped_columns.end())),
            quoted_shadow_})) {
    deferred_indexes_.push_back("CREATE INDEX ON " + quoted_shadow_ + " " + index[0].value_or(""));
  }
  apply_ = open_session();
  spdlog::info("resuming into the shadow table {} ({} indexes still to build)", quoted_shadow_,
               deferred_indexes_.size());
}

void PgRebuild::drop_shadow() {
  main_->execute("DROP TABLE IF EXISTS " + quoted_shadow_);
}

Position PgRebuild::log_position() {
  // A transactional logical message: its commit is flushed at once, so the change stream reads
  // past it promptly even on an idle server, and every transaction committed before this call
  // sits before the returned position.
  Position position;
  position.lsn = pg::parse_lsn(reconnecting("reading the WAL position", [&] {
    return main_
        ->query_value(
            "SELECT pg_logical_emit_message(true, 'sluice', "
            "'position')::text")
        .value_or("");
  }));
  return position;
}

std::unique_ptr<replication::ChangeStream> PgRebuild::open_stream(const Position& start) {
  if (options_.resume) {
    // The killed run's slot kept every change after the position it confirmed, which is never
    // beyond its checkpoint: read on from the checkpoint.
    return resume_postgres_stream(dsn_, password_, options_.table, slot_name(table_oid_), start.lsn,
                                  options_.reconnect.give_up_after);
  }
  // The slot decodes every transaction committing after its creation; everything committed
  // before is visible to the copy, which starts after this call. Its name derives from the
  // table's oid, so that a second run on the table is refused and `sluice cleanup` finds it.
  return open_postgres_stream(dsn_, password_, plan_.source.name, slot_name(table_oid_),
                              options_.reconnect.give_up_after);
}

PgRebuild::Predicate PgRebuild::range(const std::optional<Row>& after,
                                                  const Row& up_to) const {
  Predicate predicate;
  if (after) {
    predicate.sql = key_compare(key_, ">", 1) + " AND ";
    for (const Value& value : *after) {
      predicate.params.push_back(bind_text(value));
    }
  }
  predicate.sql += key_compare(key_, "<=", predicate.params.size() + 1);
  for (const Value& value : up_to) {
    predicate.params.push_back(bind_text(value));
  }
  return predicate;
}

std::optional<Row> PgRebuild::read_key(Connection& connection, const std::string& sql,
                                             const Params& params) {
  const std::vector<ResultRow> rows = connection.query_params(sql, params);
  if (rows.empty()) {
    return std::nullopt;
  }
  Row key;
  for (const std::optional<std::string>& value : rows.front()) {
    key.push_back(Value{ValueKind::number, value.value_or("")});
  }
  return key;
}

std::optional<Row> PgRebuild::offset_chunk_end(Connection& connection,
                                                     const std::optional<Row>& after,
                                                     std::uint64_t rows) {
  std::string columns;
  std::string descending;
  for (const std::string& column : key_) {
    columns += (columns.empty() ? "" : ", ") + column;
    descending += (descending.empty() ? "" : ", ") + column + " DESC";
  }
  Params params;
  std::string from = " FROM " + quoted_source_;
  if (after) {
    from += " WHERE " + key_compare(key_, ">", 1);
    for (const Value& value : *after) {
      params.push_back(bind_text(value));
    }
  }
  if (std::optional<Row> end = read_key(connection,
                                        "SELECT " + columns + from + " ORDER BY " + columns +
                                            " LIMIT 1 OFFSET " + std::to_string(rows - 1),
                                        params)) {
    return end;
  }
  return read_key(connection, "SELECT " + columns + from + " ORDER BY " + descending + " LIMIT 1",
                  params);
}

std::optional<Row> PgRebuild::chunk_end(const std::optional<Row>& after, std::uint64_t rows) {
  return reconnecting("finding the next chunk", [&] { return find_chunk_end(after, rows); });
}

std::optional<Row> PgRebuild::find_chunk_end(const std::optional<Row>& after,
                                                   std::uint64_t rows) {
  if (key_.size() != 1 || !is_integer(plan_.source.columns[plan_.source.key_columns.front()])) {
    return offset_chunk_end(*main_, after, rows);
  }
  // A single integer key: the chunk is a span of key values, found without reading the rows
  // twice; the sizer widens the span over gaps as it learns from the time a chunk takes.
  const std::string& column = key_.front();
  const std::vector<ResultRow> bounds = main_->query("SELECT min(" + column + ")::text, max(" +
                                                     column + ")::text FROM " + quoted_source_);
  if (!bounds.front()[1]) {
    return std::nullopt;
  }
  const __int128 low = after ? std::stoll(after->front().text) : std::stoll(*bounds.front()[0]) - 1;
  const __int128 high = std::stoll(*bounds.front()[1]);
  if (low >= high) {
    return std::nullopt;
  }
  const auto end = static_cast<long long>(std::min<__int128>(high, low + rows));
  return Row{Value{ValueKind::number, std::to_string(end)}};
}

PgRebuild::Predicate PgRebuild::keys_after(const std::optional<Row>& after) const {
  Predicate predicate{"true", {}};
  if (after) {
    predicate.sql = key_compare(key_, ">", 1);
    for (const Value& value : *after) {
      predicate.params.push_back(bind_text(value));
    }
  }
  return predicate;
}

std::string PgRebuild::copy_statement(const std::string& where) const {
  return "INSERT INTO " + quoted_shadow_ + " (" + target_columns_ +
         ") OVERRIDING SYSTEM VALUE SELECT " + select_columns_ + " FROM " + quoted_source_ +
         " WHERE " + where;
}

void PgRebuild::recopy(const Mismatch& mismatch) {
  const Predicate where =
      mismatch.up_to ? range(mismatch.after, *mismatch.up_to) : keys_after(mismatch.after);
  reconnecting("re-copying a range", [&] {
    main_->execute("BEGIN");
    try {
      main_->query_params("DELETE FROM " + quoted_shadow_ + " WHERE " + where.sql, where.params);
      main_->query_params(copy_statement(where.sql) + " ON CONFLICT DO NOTHING", where.params);
      main_->execute("COMMIT");
    } catch (...) {
      main_->execute("ROLLBACK");
      throw;
    }
  });
}

std::uint64_t PgRebuild::copy_range(const std::optional<Row>& after, const Row& up_to) {
  // One INSERT … SELECT of a key range: after a lost session it either committed (then the
  // redo's conflicts are skipped, ON CONFLICT DO NOTHING) or did not.
  return reconnecting("copying a chunk", [&] { return copy_range_once(after, up_to); });
}

std::uint64_t PgRebuild::copy_range_once(const std::optional<Row>& after, const Row& up_to) {
  const Predicate where = range(after, up_to);
  const std::string insert = copy_statement(where.sql);
  std::uint64_t copied = 0;
  try {
    main_->query_params(insert, where.params, &copied);
  } catch (const ServerError& error) {
    if (error.code() != kUniqueViolation) {
      throw;
    }
    // A row collides on a unique value with a row the applier wrote from a newer image; its own
    // change is held until this chunk commits and then lands, so the chunk skips it. (ON
    // CONFLICT on every chunk would cost a speculative insertion per row.) The plan refuses
    // ALTERs that add a unique constraint, where skipping would lose rows.
    main_->query_params(insert + " ON CONFLICT DO NOTHING", where.params, &copied);
  }
  return copied;
}

std::vector<PgRebuild::Completed> PgRebuild::fill_unchanged(
    const std::vector<Row>& rows, const std::vector<Row>& fill_from) {
  std::vector<Completed> completed(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    completed[r].values = rows[r];
    completed[r].from_shadow.assign(rows[r].size(), false);
  }
  // Where each value may still be found, in order: the shadow row under fill_from (the state
  // before this write, already in the new column types), then the source row under the row's
  // own key, then under fill_from. A row found in none of them no longer exists in the source:
  // a later change in the stream deletes or moves it, so it is not written now.
  struct Lookup {
    const std::string* table;
    bool own_key;
  };
  const Lookup lookups[] = {
      {&quoted_shadow_, false}, {&quoted_source_, true}, {&quoted_source_, false}};
  std::string key_columns;
  for (const std::string& column : key_) {
    key_columns += column + ", ";
  }
  for (const Lookup& lookup : lookups) {
    std::vector<std::size_t> missing;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (has_unchanged(completed[r].values)) {
        missing.push_back(r);
      }
    }
    if (missing.empty()) {
      break;
    }
    std::vector<Row> keys;
    Params params;
    for (std::size_t r : missing) {
      Row key;
      if (lookup.own_key) {
        for (std::size_t position : key_in_mapped_) {
          key.push_back(rows[r][position]);
        }
      } else {
        key = fill_from[r];
      }
      for (const Value& value : key) {
        params.push_back(bind_text(value));
      }
      keys.push_back(std::move(key));
    }
    const std::vector<ResultRow> results =
        apply_->query_params("SELECT " + key_columns + target_columns_ + " FROM " + *lookup.table +
                                 " WHERE " + key_in(key_, keys.size(), 1),
                             params);
    for (std::size_t m = 0; m < missing.size(); ++m) {
      const auto match = std::find_if(results.begin(), results.end(), [&](const ResultRow& row) {
        Row key;
        for (std::size_t i = 0; i < key_.size(); ++i) {
          key.push_back(Value{ValueKind::number, row[i].value_or("")});
        }
        return compare_keys(key, keys[m]) == 0;
      });
      if (match == results.end()) {
        continue;
      }
      Completed& row = completed[missing[m]];
      for (std::size_t i = 0; i < row.values.size(); ++i) {
        if (row.values[i].kind == ValueKind::unchanged) {
          const std::optional<std::string>& text = (*match)[key_.size() + i];
          row.values[i] = text ? Value{ValueKind::text, *text} : Value{};
          row.from_shadow[i] = lookup.table == &quoted_shadow_;
        }
      }
    }
  }
  for (Completed& row : completed) {
    row.keep = !has_unchanged(row.values);
  }
  return completed;
}

void PgRebuild::insert_replacing(const std::string& rows, const Params& params) {
  const std::string insert = "INSERT INTO " + quoted_shadow_ + " (" + target_columns_ +
                             ") OVERRIDING SYSTEM VALUE " + rows;
  apply_->execute("SAVEPOINT sluice_apply");
  try {
    apply_->query_params(insert, params);
  } catch (const ServerError& error) {
    if (error.code() != kUniqueViolation) {
      throw;
    }
    // A row of the shadow still holds, from an older image, a unique value that a newer image
    // being applied now takes: the source had already moved it on, and that change comes later
    // in the stream (or was copied), so it goes now, as MySQL's REPLACE does. Verification
    // proves the result.
    apply_->execute("ROLLBACK TO SAVEPOINT sluice_apply");
    for (const std::vector<std::string>& columns : shadow_unique_columns()) {
      std::string match;
      for (const std::string& column : columns) {
        match += (match.empty() ? "" : " AND ") + std::string("t.") + column + " = n." + column;
      }
      apply_->query_params("DELETE FROM " + quoted_shadow_ + " AS t USING (" + rows + ") AS n (" +
                               target_columns_ + ") WHERE " + match,
                           params);
    }
    apply_->query_params(insert, params);
  }
  apply_->execute("RELEASE SAVEPOINT sluice_apply");
}

const std::vector<std::vector<std::string>>& PgRebuild::shadow_unique_columns() {
  if (!shadow_unique_columns_) {
    std::map<std::string, std::vector<std::string>> by_index;
    for (const ResultRow& row : apply_->query(
             "SELECT i.indexrelid::text, quote_ident(a.attname) FROM pg_index i "
             "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) "
             "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
             "WHERE i.indrelid = $1::regclass AND i.indisunique AND NOT i.indisprimary AND "
             "i.indexprs IS NULL AND i.indpred IS NULL ORDER BY i.indexrelid, k.ord",
             {quoted_shadow_})) {
      by_index[row[0].value_or("")].push_back(row[1].value_or(""));
    }
    shadow_unique_columns_.emplace();
    for (auto& [index, columns] : by_index) {
      shadow_unique_columns_->push_back(std::move(columns));
    }
  }
  return *shadow_unique_columns_;
}

void PgRebuild::insert_rows(const std::vector<Completed>& rows) {
  const std::size_t width = plan_.mapped_columns.size();
  std::string select_expressions;
  for (const std::string& expression : select_expressions_) {
    select_expressions += (select_expressions.empty() ? "" : ", ") + expression;
  }
  // Most rows go in batches, one text array per column: two parameters instead of thousands
  // keep parsing and planning cheap. Stream values are the source type's text: each is cast to
  // the source type, then converted to the new column exactly as the copy converts it (USING
  // expression or cast).
  std::string unnest_columns;
  std::string typed_columns;
  for (std::size_t i = 0; i < width; ++i) {
    const std::string name = quote(plan_.source.columns[plan_.mapped_columns[i]].name);
    unnest_columns += (i > 0 ? ", $" : "$") + std::to_string(i + 1) + "::text[]";
    typed_columns += std::string(i > 0 ? ", " : "") + "CAST(u.c" + std::to_string(i) + " AS " +
                     source_types_[plan_.mapped_columns[i]] + ") AS " + name;
  }
  std::string aliases;
  for (std::size_t i = 0; i < width; ++i) {
    aliases += (i > 0 ? ", c" : "c") + std::to_string(i);
  }
  const std::string batch_rows = "SELECT " + select_expressions + " FROM (SELECT " + typed_columns +
                                 " FROM unnest(" + unnest_columns + ") AS u (" + aliases +
                                 ")) AS s";
  std::vector<std::vector<std::optional<std::string>>> columns(width);
  auto insert_batch = [&] {
    if (columns.front().empty()) {
      return;
    }
    Params params;
    for (auto& column : columns) {
      params.push_back(array_literal(column));
      column.clear();
    }
    insert_replacing(batch_rows, params);
  };
  for (const Completed& row : rows) {
    if (!row.keep) {
      continue;
    }
    const bool from_shadow =
        std::find(row.from_shadow.begin(), row.from_shadow.end(), true) != row.from_shadow.end();
    if (!from_shadow) {
      for (std::size_t i = 0; i < width; ++i) {
        columns[i].push_back(bind_text(row.values[i]));
      }
      if (columns.front().size() == kBatchRows) {
        insert_batch();
      }
      continue;
    }
    // A row holding values taken from the shadow goes alone: those values are already in the
    // new column types and must not pass through the conversion a second time.
    std::string select;
    std::string values;
    Params params;
    for (std::size_t i = 0; i < width; ++i) {
      select += (i > 0 ? ", " : "") +
                (row.from_shadow[i] ? quote(plan_.source.columns[plan_.mapped_columns[i]].name)
                                    : select_expressions_[i]);
      params.push_back(bind_text(row.values[i]));
      values += (i > 0 ? ", $" : "$") + std::to_string(i + 1) + "::" +
                (row.from_shadow[i] ? shadow_types_[i] : source_types_[plan_.mapped_columns[i]]);
    }
    insert_replacing(
        "SELECT " + select + " FROM (VALUES (" + values + ")) AS s (" + values_columns_ + ")",
        params);
  }
  insert_batch();
}

void PgRebuild::replace_rows(const std::vector<Row>& delete_keys,
                                   const std::vector<Row>& rows,
                                   const std::vector<Row>& fill_from) {
  // One transaction that deletes the batch's keys and writes their latest images: safe to redo
  // when the session was lost before the commit was acknowledged.
  reconnecting("applying changes", [&] { write_batch(delete_keys, rows, fill_from); });
}

void PgRebuild::write_batch(const std::vector<Row>& delete_keys, const std::vector<Row>& rows,
                                  const std::vector<Row>& fill_from) {
  const auto started = std::chrono::steady_clock::now();
  struct Timer {
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::duration& total;
    ~Timer() { total += std::chrono::steady_clock::now() - started; }
  } timer{started, apply_time_};
  apply_->execute("BEGIN");
  try {
    // Read before the deletes below, which may remove the rows holding the values.
    const std::vector<Completed> completed = fill_unchanged(rows, fill_from);
    const std::size_t batch =
        key_.size() == 1 ? kBatchRows : std::max<std::size_t>(1, kStatementParams / key_.size());
    for (std::size_t start = 0; start < delete_keys.size(); start += batch) {
      const std::size_t end = std::min(delete_keys.size(), start + batch);
      Params params;
      for (std::size_t k = start; k < end; ++k) {
        for (const Value& value : delete_keys[k]) {
          params.push_back(bind_text(value));
        }
      }
      if (key_.size() == 1) {
        // One array parameter, compared in the key column's own type so its index is used.
        apply_->query_params("DELETE FROM " + quoted_shadow_ + " WHERE " + key_.front() +
                                 " = ANY(CAST($1::text[] AS " + shadow_types_[key_in_mapped_[0]] +
                                 "[]))",
                             {array_literal(params)});
      } else {
        apply_->query_params(
            "DELETE FROM " + quoted_shadow_ + " WHERE " + key_in(key_, end - start, 1), params);
      }
    }
    insert_rows(completed);
    apply_->execute("COMMIT");
  } catch (...) {
    apply_->execute("ROLLBACK");
    throw;
  }
}

void PgRebuild::build_deferred_indexes(Connection& connection) {
  for (const std::string& definition : deferred_indexes_) {
    const auto started = std::chrono::steady_clock::now();
    connection.execute(definition);
    spdlog::info(
        "built an index of the shadow table in {} ms: {}",
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started)
            .count(),
        definition);
  }
  deferred_indexes_.clear();
}

// The two snapshots of a PostgreSQL verification: one exported snapshot, imported by the second
// session, so both see the table and its shadow at the same moment. The shadow's deferred
// indexes are built meanwhile: verification reads by the key, which the shadow has had all
// along, nothing writes to the shadow until the cut-over drains the stream, and CREATE INDEX's
// SHARE lock lets the snapshot read.
class PgRebuild::Snapshots : public VerifySnapshots {
 public:
  Snapshots(PgRebuild& rebuild, std::unique_ptr<Connection> source,
            std::unique_ptr<Connection> shadow)
      : rebuild_(rebuild),
        source_(std::move(source)),
        shadow_(std::move(shadow)),
        source_view_(*source_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
        shadow_view_(*shadow_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
    const std::string snapshot = source_->query_value("SELECT pg_export_snapshot()").value_or("");
    shadow_->execute("SET TRANSACTION SNAPSHOT " + quote_literal(snapshot));
    read_key_span();
  }

  // Starts building the shadow's deferred indexes on their own session.
  void build_indexes(std::unique_ptr<Connection> session) {
    index_session_ = std::move(session);
    indexes_ = std::async(std::launch::async,
                          [this] { rebuild_.build_deferred_indexes(*index_session_); });
  }

  // For a single integer key: spans of key values between the snapshot's first and last key
  // (no extra index walk per chunk); otherwise the key of every `rows`-th row.
  std::optional<Row> chunk_end(const std::optional<Row>& after, std::uint64_t rows) override {
    if (!span_) {
      return rebuild_.offset_chunk_end(*source_, after, rows);
    }
    const long long low = after ? std::stoll(after->front().text) : span_->first;
    if (low >= span_->second) {
      return std::nullopt;
    }
    const long long end = std::min<long long>(span_->second, low + static_cast<long long>(rows));
    return Row{Value{ValueKind::number, std::to_string(end)}};
  }

  // Each side XORs a hash of its rows, the source's values converted to the new types first, so
  // equal rows hash equally; XOR does not depend on row order, and the key rules out duplicate
  // rows cancelling out.
  ChunkSum source_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    return sum(*source_, rebuild_.quoted_source_, rebuild_.source_hashed_, after, up_to);
  }

  ChunkSum shadow_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    return sum(*shadow_, rebuild_.quoted_shadow_, rebuild_.shadow_hashed_, after, up_to);
  }

  void finish() override {
    source_view_.commit();
    shadow_view_.commit();
    if (indexes_.valid()) {
      indexes_.get();
    }
  }

 private:
  void read_key_span() {
    const PgRebuild& r = rebuild_;
    if (r.key_.size() != 1 || !is_integer(r.plan_.source.columns[r.plan_.source.key_columns.front()])) {
      return;
    }
    const ResultRow bounds = source_
                                 ->query("SELECT min(" + r.key_.front() + ")::text, max(" +
                                         r.key_.front() + ")::text FROM " + r.quoted_source_)
                                 .front();
    if (bounds[0] && bounds[1]) {
      span_.emplace(std::stoll(*bounds[0]) - 1, std::stoll(*bounds[1]));
    } else {
      span_.emplace(0, 0);
    }
  }

  ChunkSum sum(Connection& connection, const std::string& table, const std::string& values,
               const std::optional<Row>& after, const std::optional<Row>& up_to) {
    const Predicate where = up_to ? rebuild_.range(after, *up_to) : rebuild_.keys_after(after);
    const ResultRow row =
        connection
            .query_params("SELECT count(*), coalesce(bit_xor(hash_record_extended(ROW(" + values +
                              "), 0)), 0) FROM " + table + " WHERE " + where.sql,
                          where.params)
            .front();
    ChunkSum sum;
    sum.rows = std::stoull(row[0].value_or("0"));
    sum.checksum = row[1].value_or("");
    return sum;
  }

  PgRebuild& rebuild_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> shadow_;
  Transaction source_view_;
  Transaction shadow_view_;
  std::optional<std::pair<long long, long long>> span_;
  std::unique_ptr<Connection> index_session_;
  std::future<void> indexes_;
};

std::unique_ptr<VerifySnapshots> PgRebuild::open_verify_snapshots(const DrainTo& drain_to) {
  std::unique_ptr<Connection> lock_session = open_session();
  std::unique_ptr<Connection> source = open_session();
  std::unique_ptr<Connection> shadow = open_session();
  auto snapshots = retry_lock_waits("verification's write block", cut_over_lock_policy(options_), [&] {
    TableLock lock(*lock_session, {{plan_.source.name, LockMode::block_writes}},
                   options_.cutover_lock_timeout);
    const auto blocked = std::chrono::steady_clock::now();
    // Writes are blocked and the shadow holds every change before this point.
    drain_to(log_position());
    auto opened = std::make_unique<Snapshots>(*this, std::move(source), std::move(shadow));
    lock.release();
    spdlog::info("verification blocked writes for {} ms to take a consistent snapshot",
                 std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - blocked)
                     .count());
    return opened;
  });
  if (!deferred_indexes_.empty()) {
    snapshots->build_indexes(open_session());
  }
  return snapshots;
}

// Statements that give the shadow's indexes (and the constraints they carry) the names the
// original's equal indexes have, and the original's a derived name: an application that names
// a constraint (ON CONFLICT ON CONSTRAINT, error handling by name) keeps working.
std::vector<std::string> PgRebuild::index_renames(Connection& connection) {
  const std::string definition =
      "regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '')";
  const std::vector<ResultRow> pairs = connection.query(
      "SELECT o.relname, s.relname FROM (SELECT ic.relname, " + definition +
          " AS def FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = "
          "$1::regclass) o JOIN (SELECT ic.relname, " +
          definition +
          " AS def FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = "
          "$2::regclass) s ON s.def = o.def ORDER BY 1",
      {quoted_source_, quoted_shadow_});
  std::vector<std::string> statements;
  std::vector<std::string> taken;
  for (const ResultRow& pair : pairs) {
    const std::string original = pair[0].value_or("");
    const std::string shadow = pair[1].value_or("");
    if (std::find(taken.begin(), taken.end(), shadow) != taken.end() || original == shadow) {
      continue;
    }
    taken.push_back(shadow);
    const std::string& schema = plan_.source.name.schema;
    statements.push_back("ALTER INDEX " + quote(ddl::QualifiedName{schema, original}) +
                         " RENAME TO " + quote(derived_name(original, "_old")));
    statements.push_back("ALTER INDEX " + quote(ddl::QualifiedName{schema, shadow}) +
                         " RENAME TO " + quote(original));
  }
  return statements;
}

std::vector<PgRebuild::Dependent> PgRebuild::read_dependents(Connection& lock) {
  // Read inside the cut-over transaction, before the renames: the definitions then name the
  // table by the name the new table is about to take.
  std::vector<Dependent> dependents;
  for (const ResultRow& row : lock.query(
           "SELECT format('%I.%I', n.nspname, c.relname), quote_ident(k.conname), "
           "pg_get_constraintdef(k.oid), k.conrelid = $1::oid FROM pg_constraint k JOIN pg_class "
           "c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
           "k.contype = 'f' AND (k.confrelid = $1::oid OR k.conrelid = $1::oid) ORDER BY 1, 2",
           {table_oid_})) {
    Dependent dependent;
    dependent.kind = Dependent::Kind::foreign_key;
    dependent.table = row[3].value_or("f") == "t" ? quoted_source_ : row[0].value_or("");
    dependent.old_table = row[3].value_or("f") == "t" ? quote(plan_.old) : dependent.table;
    dependent.name = row[1].value_or("");
    dependent.definition = row[2].value_or("");
    // A constraint that was NOT VALID stays so; a valid one is validated after the swap.
    const std::string suffix = " NOT VALID";
    dependent.validate = dependent.definition.size() < suffix.size() ||
                         dependent.definition.compare(dependent.definition.size() - suffix.size(),
                                                      suffix.size(), suffix) != 0;
    if (dependent.validate) {
      dependent.definition += suffix;
    }
    dependents.push_back(dependent);
  }
  for (const ResultRow& row : lock.query(
           "SELECT DISTINCT format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid, true), "
           "array_to_string(c.reloptions, ', ') FROM pg_depend d JOIN pg_rewrite r ON r.oid = "
           "d.objid JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = "
           "c.relnamespace WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = "
           "'pg_class'::regclass AND d.refobjid = $1::oid AND c.oid <> $1::oid AND c.relkind = "
           "'v' ORDER BY 1",
           {table_oid_})) {
    Dependent view;
    view.kind = Dependent::Kind::view;
    view.name = row[0].value_or("");
    std::string definition = row[1].value_or("");
    while (!definition.empty() && (definition.back() == ';' || definition.back() == ' ')) {
      definition.pop_back();
    }
    view.definition = definition;
    view.options = row[2].value_or("");
    dependents.push_back(view);
  }
  return dependents;
}

std::vector<std::string> PgRebuild::recreate_dependents(
    const std::vector<Dependent>& dependents) {
  std::vector<std::string> statements;
  for (const Dependent& dependent : dependents) {
    if (dependent.kind == Dependent::Kind::foreign_key) {
      // The old table's own foreign keys go too: kept, they would keep checking (and blocking
      // deletes of) parent rows on behalf of rows the application has since changed.
      statements.push_back("ALTER TABLE " + dependent.old_table + " DROP CONSTRAINT " +
                           dependent.name);
      statements.push_back("ALTER TABLE " + dependent.table + " ADD CONSTRAINT " + dependent.name +
                           " " + dependent.definition);
    } else {
      // The same query, now resolving the table's name to the new table; grants, owner,
      // comments and views built on this view stay as they are.
      statements.push_back("CREATE OR REPLACE VIEW " + dependent.name +
                           (dependent.options.empty() ? "" : " WITH (" + dependent.options + ")") +
                           " AS " + dependent.definition);
    }
  }
  return statements;
}

// The replica identity and the application's own publications (CDC, logical replicas) belong
// to the table by oid, so they must be moved to the new table, or they would keep following
// the old one. Run after the renames in the statement list: the new table has the table's name
// and its indexes the original index names by then. Read before the renames.
std::vector<std::string> PgRebuild::carry_identity_and_publications(Connection& lock) {
  std::vector<std::string> statements;
  const ResultRow identity =
      lock.query(
              "SELECT c.relreplident, (SELECT quote_ident(ic.relname) FROM pg_index i JOIN "
              "pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND "
              "i.indisreplident) FROM pg_class c WHERE c.oid = $1::oid",
              {table_oid_})
          .front();
  const std::string kind = identity[0].value_or("d");
  if (kind == "f") {
    statements.push_back("ALTER TABLE " + quoted_source_ + " REPLICA IDENTITY FULL");
  } else if (kind == "n") {
    statements.push_back("ALTER TABLE " + quoted_source_ + " REPLICA IDENTITY NOTHING");
  } else if (kind == "i" && identity[1]) {
    statements.push_back("ALTER TABLE " + quoted_source_ + " REPLICA IDENTITY USING INDEX " +
                         *identity[1]);
  }
  for (const ResultRow& publication : lock.query(
           "SELECT quote_ident(p.pubname), (SELECT string_agg(quote_ident(a.attname), ', ' ORDER "
           "BY a.attnum) FROM pg_attribute a WHERE a.attrelid = r.prrelid AND a.attnum = "
           "ANY(r.prattrs)), pg_get_expr(r.prqual, r.prrelid) FROM pg_publication_rel r JOIN "
           "pg_publication p ON p.oid = r.prpubid WHERE r.prrelid = $1::oid AND p.pubname <> $2 "
           "ORDER BY 1",
           {table_oid_, pg::sluice_object_name(slot_name(table_oid_))})) {
    const std::string name = publication[0].value_or("");
    statements.push_back("ALTER PUBLICATION " + name + " DROP TABLE " + quote(plan_.old));
    // With the publication's column list and row filter, as they were.
    statements.push_back("ALTER PUBLICATION " + name + " ADD TABLE " + quoted_source_ +
                         (publication[1] ? " (" + *publication[1] + ")" : "") +
                         (publication[2] ? " WHERE (" + *publication[2] + ")" : ""));
  }
  return statements;
}

bool PgRebuild::try_cut_over(const RebuildOptions& options, const DrainTo& drain_to,
                                   milliseconds& write_block, std::vector<Dependent>& recreated) {
  std::unique_ptr<Connection> lock = open_session();
  try {
    lock->execute("BEGIN; SET LOCAL lock_timeout = " + ms_setting(options.cutover_lock_timeout) +
                  "; LOCK TABLE " + quoted_source_ + " IN ACCESS EXCLUSIVE MODE");
  } catch (const ServerError& error) {
    lock->execute("ROLLBACK");
    if (error.code() == kLockTimeout) {
      spdlog::warn("cut-over could not lock {} within {} ms", quoted_source_,
                   options.cutover_lock_timeout.count());
      return false;
    }
    throw;
  }
  const auto blocked = std::chrono::steady_clock::now();
  // Until COMMIT, any failure rolls the whole swap back: the original table stays in place.
  try {
    const auto apply_before = apply_time_;
    const Position target = log_position();
    const auto positioned = std::chrono::steady_clock::now();
    drain_to(target);
    const auto drained = std::chrono::steady_clock::now();
    spdlog::debug(
        "cut-over: writes blocked, change stream drained to {}: {} ms to write the position, {} "
        "ms to drain, of which {} ms applying",
        to_string(target), std::chrono::duration_cast<milliseconds>(positioned - blocked).count(),
        std::chrono::duration_cast<milliseconds>(drained - positioned).count(),
        std::chrono::duration_cast<milliseconds>(apply_time_ - apply_before).count());
    const std::vector<Dependent> dependents = read_dependents(*lock);
    std::vector<std::string> statements = index_renames(*lock);
    statements.push_back("ALTER TABLE " + quoted_source_ + " RENAME TO " + quote(plan_.old.name));
    statements.push_back("ALTER TABLE " + quoted_shadow_ + " RENAME TO " +
                         quote(plan_.source.name.name));
    for (const SequenceMove& move : sequences_) {
      if (move.shadow) {
        // An identity column: the new table's own sequence continues from the old one, and
        // takes its name (applications may call nextval or currval on it).
        lock->query("SELECT setval($1::regclass, last_value, is_called) FROM " + move.source,
                    {*move.shadow});
        statements.push_back("ALTER SEQUENCE " + move.source + " RENAME TO " +
                             quote(derived_name(move.source_name, "_old")));
        statements.push_back("ALTER SEQUENCE " + *move.shadow + " RENAME TO " +
                             quote(move.source_name));
      } else {
        // A serial: the new table's default already calls this sequence; it must no longer
        // disappear with the old table.
        statements.push_back("ALTER SEQUENCE " + move.source + " OWNED BY " + quoted_source_ + "." +
                             quote(move.column));
      }
    }
    if (force_row_security_) {
      statements.push_back("ALTER TABLE " + quoted_source_ + " FORCE ROW LEVEL SECURITY");
    }
    for (const auto& [name, enabled] : triggers_) {
      // As they were on the original: O fires normally, R only for replication, A always,
      // D never.
      const std::string mode = enabled == "R"   ? "ENABLE REPLICA"
                               : enabled == "A" ? "ENABLE ALWAYS"
                               : enabled == "D" ? ""
                                                : "ENABLE";
      if (!mode.empty()) {
        statements.push_back("ALTER TABLE " + quoted_source_ + " " + mode + " TRIGGER " + name);
      }
    }
    for (const std::string& statement : recreate_dependents(dependents)) {
      statements.push_back(statement);
    }
    for (const std::string& statement : carry_identity_and_publications(*lock)) {
      statements.push_back(statement);
    }
    const auto swapping = std::chrono::steady_clock::now();
    for (const std::string& statement : statements) {
      lock->execute(statement);
    }
    const auto swapped = std::chrono::steady_clock::now();
    lock->execute("COMMIT");
    spdlog::debug(
        "cut-over: {} ms reading dependents, {} ms for {} swap statements, {} ms to "
        "commit",
        std::chrono::duration_cast<milliseconds>(swapping - drained).count(),
        std::chrono::duration_cast<milliseconds>(swapped - swapping).count(), statements.size(),
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - swapped)
            .count());
    recreated = dependents;
  } catch (const ServerError& error) {
    lock->execute("ROLLBACK");
    // Another table the swap touches (a referencing table, a parent) was busy too, or the
    // application deadlocked with the swap: the same as a busy table, retried.
    if (error.code() == kLockTimeout || error.code() == kDeadlock) {
      spdlog::warn("cut-over rolled back: {}", error.what());
      return false;
    }
    throw;
  } catch (...) {
    lock->execute("ROLLBACK");
    throw;
  }
  write_block =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - blocked);
  return true;
}

void PgRebuild::validate_foreign_keys(const std::vector<Dependent>& dependents) {
  // VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE, which lets writes go on.
  for (const Dependent& dependent : dependents) {
    if (dependent.kind != Dependent::Kind::foreign_key || !dependent.validate) {
      continue;
    }
    const std::string statement =
        "ALTER TABLE " + dependent.table + " VALIDATE CONSTRAINT " + dependent.name;
    try {
      main_->execute(statement);
      spdlog::info("re-created and validated foreign key {} on {}", dependent.name,
                   dependent.table);
    } catch (const ServerError& error) {
      spdlog::warn(
          "foreign key {} on {} is in place but NOT VALID ({}); run {} when the table is quieter",
          dependent.name, dependent.table, error.what(), statement);
    }
  }
}

CutOverResult PgRebuild::cut_over(const RebuildOptions& options, const DrainTo& drain_to) {
  CutOverResult result;
  for (result.attempts = 1; result.attempts <= options.cutover_attempts; ++result.attempts) {
    std::vector<Dependent> recreated;
    if (try_cut_over(options, drain_to, result.write_block, recreated)) {
      spdlog::info(
          "cut-over done: {} now has the new schema, the old table is {}; writes were "
          "blocked for {} ms",
          quoted_source_, quote(plan_.old), result.write_block.count());
      validate_foreign_keys(recreated);
      return result;
    }
    std::this_thread::sleep_for(milliseconds(500 * result.attempts));
  }
  throw Error(ExitCode::failure, "cut-over failed " + std::to_string(options.cutover_attempts) +
                                     " times (the table stayed busy); the original table is "
                                     "untouched; run sluice alter again at a quieter time");
}

std::vector<std::string> PgRebuild::cleanup(const std::string& table) {
  const ddl::QualifiedName name = resolve_table(table);
  std::vector<std::string> dropped;
  const pg::ConnectionParams params{dsn_.pg_conninfo, password_};
  // The slot is named after the oid of the table as it was when the run started: the table
  // itself, or _<table>_old when the run died between its swap and dropping the slot.
  const ddl::QualifiedName old{name.schema, derived_name(name.name, "_old")};
  for (const ddl::QualifiedName& candidate : {name, old}) {
    const std::optional<std::string> oid = main_->query_value(
        "SELECT c.oid::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {candidate.schema, candidate.name});
    if (!oid) {
      continue;
    }
    const std::string object = pg::sluice_object_name(slot_name(*oid));
    const std::optional<std::string> active = main_->query_value(
        "SELECT active::text FROM pg_replication_slots WHERE slot_name = $1", {object});
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
      if (main_->query_value("SELECT 1 FROM pg_publication WHERE pubname = $1", {object})) {
        pg::drop_publication(params, object);
        dropped.push_back("publication " + object);
      }
    } catch (const replication::StreamError& error) {
      throw Error(ExitCode::failure, std::string("could not drop ") + object + ": " + error.what());
    }
  }
  const ddl::QualifiedName shadow{name.schema, derived_name(name.name, "_new")};
  if (table_exists(shadow)) {
    main_->execute("DROP TABLE " + quote(shadow));
    dropped.push_back(quote(shadow));
  }
  return dropped;
}

}  // namespace sluice::postgres

#include "src/postgres/pg_preflight.h"

#include "replication/postgres/slot_manager.h"
#include "src/error.h"
#include "src/postgres/pg_key.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {
namespace {

std::string value_or(const std::optional<std::string>& value, std::string fallback) {
  return value ? *value : std::move(fallback);
}

std::string join(const std::vector<ResultRow>& rows) {
  std::string out;
  for (const ResultRow& row : rows) {
    out += (out.empty() ? "" : ", ") + value_or(row.front(), "?");
  }
  return out;
}

long to_long(const std::optional<std::string>& value) {
  return value ? std::stol(*value) : 0;
}

void check_server(Connection& connection, PreflightReport& report) {
  const std::string wal_level = value_or(connection.query_value("SHOW wal_level"), "");
  if (wal_level == "logical") {
    report.pass("wal_level", "wal_level is logical");
  } else {
    report.fail("wal_level",
                "wal_level is " + wal_level + "; logical decoding needs wal_level = logical",
                "ALTER SYSTEM SET wal_level = logical and restart the server");
  }

  const long max_slots = to_long(connection.query_value("SHOW max_replication_slots"));
  const long used_slots =
      to_long(connection.query_value("SELECT count(*) FROM pg_replication_slots"));
  if (used_slots < max_slots) {
    report.pass("replication_slots", std::to_string(max_slots - used_slots) + " of " +
                                         std::to_string(max_slots) + " replication slots are free");
  } else {
    report.fail(
        "replication_slots",
        "all " + std::to_string(max_slots) + " replication slots are in use; sluice needs one",
        "drop an unused slot (pg_drop_replication_slot) or raise max_replication_slots "
        "and restart");
  }

  const long max_senders = to_long(connection.query_value("SHOW max_wal_senders"));
  const long used_senders = to_long(connection.query_value(
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'"));
  if (used_senders < max_senders) {
    report.pass("wal_senders", std::to_string(max_senders - used_senders) + " of " +
                                   std::to_string(max_senders) + " WAL senders are free");
  } else {
    report.fail("wal_senders",
                "all " + std::to_string(max_senders) +
                    " WAL senders are busy; sluice's change stream needs one",
                "raise max_wal_senders and restart, or stop an idle replication client");
  }

  std::vector<ResultRow> role = connection.query(
      "SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = "
      "current_user");
  const std::string user = role.empty() ? "?" : value_or(role.front()[0], "?");
  if (!role.empty() && value_or(role.front()[1], "f") == "t") {
    report.pass("replication_role", "role " + user + " may open replication connections");
  } else {
    report.fail("replication_role",
                "role " + user +
                    " has neither REPLICATION nor SUPERUSER, so it cannot "
                    "read a replication slot",
                "ALTER ROLE " + user + " REPLICATION");
  }
}

struct TableFacts {
  std::string oid;
  std::string kind;
  std::string persistence;
  std::string replica_identity;
  bool is_partition = false;
  bool owned = false;
};

TableFacts find_table(Connection& connection, const ddl::QualifiedName& table,
                      const std::string& quoted) {
  std::vector<ResultRow> rows = connection.query(
      "SELECT c.oid, c.relkind, c.relpersistence, c.relreplident, c.relispartition, "
      "pg_has_role(c.relowner, 'USAGE') FROM pg_class c JOIN pg_namespace n ON n.oid = "
      "c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
      {table.schema, table.name});
  if (rows.empty()) {
    throw Error(ExitCode::not_found,
                "table " + quoted +
                    " does not exist; check --table (schema.table, default schema public) and "
                    "the database in the DSN");
  }
  const ResultRow& row = rows.front();
  return TableFacts{value_or(row[0], ""),         value_or(row[1], ""),
                    value_or(row[2], ""),         value_or(row[3], ""),
                    value_or(row[4], "f") == "t", value_or(row[5], "f") == "t"};
}

void check_table_kind(const TableFacts& facts, const std::string& quoted, PreflightReport& report) {
  if (facts.kind == "p") {
    report.fail("table", quoted + " is a partitioned table, which sluice does not rebuild",
                "migrate each partition, or change the parent with plain DDL");
  } else if (facts.kind != "r") {
    report.fail("table", quoted + " is not an ordinary table (relkind " + facts.kind + ")",
                "name the underlying table instead");
  } else if (facts.is_partition) {
    report.fail("table", quoted + " is a partition of another table",
                "change the partitioned parent instead");
  } else if (facts.persistence == "u") {
    report.fail("table",
                quoted +
                    " is UNLOGGED, so its changes never reach the logical replication "
                    "stream",
                "ALTER TABLE ... SET LOGGED first, or change it with plain DDL");
  } else if (facts.persistence == "t") {
    report.fail("table", quoted + " is a temporary table", "temporary tables need no migration");
  } else {
    report.pass("table", quoted + " is an ordinary logged table");
  }
}

void check_publication_rights(Connection& connection, const TableFacts& facts,
                              const std::string& quoted, PreflightReport& report) {
  const bool can_create =
      value_or(connection.query_value("SELECT has_database_privilege(current_database(), "
                                      "'CREATE')"),
               "f") == "t";
  if (facts.owned && can_create) {
    report.pass("publication_privileges",
                "the role owns " + quoted + " and may create publications in this database");
  } else {
    report.fail("publication_privileges",
                std::string("creating a publication for ") + quoted + " needs " +
                    (facts.owned ? "" : "ownership of the table") +
                    (!facts.owned && !can_create ? " and " : "") +
                    (can_create ? "" : "CREATE on the database"),
                "connect as the table's owner, or GRANT CREATE ON DATABASE to this role");
  }
}

// The shadow table is created next to the table, in its schema.
void check_schema_rights(Connection& connection, const ddl::QualifiedName& table,
                         PreflightReport& report) {
  const std::string schema = ddl::quote_identifier(ddl::Dialect::postgres, table.schema);
  const bool can_create =
      value_or(connection.query_value("SELECT has_schema_privilege($1, 'CREATE')", {table.schema}),
               "f") == "t";
  if (can_create) {
    report.pass("schema_privileges", "the role may create the new table in schema " + schema);
  } else {
    report.fail("schema_privileges",
                "the role lacks CREATE on schema " + schema + ", needed for the new table",
                "GRANT CREATE ON SCHEMA " + schema + " to this role");
  }
}

void check_inheritance(Connection& connection, const TableFacts& facts, const std::string& quoted,
                       PreflightReport& report) {
  std::vector<ResultRow> parents = connection.query(
      "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = $1::oid ORDER BY 1",
      {facts.oid});
  std::vector<ResultRow> children = connection.query(
      "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = $1::oid ORDER BY 1",
      {facts.oid});
  if (facts.is_partition || (parents.empty() && children.empty())) {
    report.pass("inheritance", quoted + " neither inherits nor is inherited from");
    return;
  }
  std::string found = !parents.empty() ? "inherits from " + join(parents) : "";
  if (!children.empty()) {
    found += std::string(found.empty() ? "" : " and ") + "is inherited by " + join(children);
  }
  report.fail("inheritance", quoted + " " + found + "; a swap would break the hierarchy",
              "change inheritance hierarchies with plain DDL");
}

void check_replica_identity(Connection& connection, const TableFacts& facts,
                            const std::string& quoted, PreflightReport& report) {
  // Unique, valid, non-partial indexes on plain columns that are all NOT NULL.
  std::vector<ResultRow> keys = connection.query(
      "SELECT i.indexrelid::regclass::text, i.indisprimary, i.indisreplident FROM pg_index i "
      "WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL "
      "AND i.indexprs IS NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE "
      "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) AND NOT a.attnotnull) "
      "ORDER BY NOT i.indisprimary, i.indnatts, 1",
      {facts.oid});
  std::optional<std::string> primary;
  std::optional<std::string> identity_index;
  for (const ResultRow& key : keys) {
    if (value_or(key[1], "f") == "t") {
      primary = value_or(key[0], "?");
    }
    if (value_or(key[2], "f") == "t") {
      identity_index = value_or(key[0], "?");
    }
  }
  const std::string& identity = facts.replica_identity;
  if (identity == "d" && primary) {
    report.pass("replica_identity", "replica identity is the primary key " + *primary);
  } else if (identity == "i" && identity_index) {
    report.pass("replica_identity", "replica identity is the unique index " + *identity_index);
  } else if (identity == "f" && !keys.empty()) {
    report.pass("replica_identity", "replica identity is FULL and the unique key " +
                                        value_or(keys.front()[0], "?") + " identifies rows");
  } else if (!keys.empty()) {
    const std::string index = value_or(keys.front()[0], "?");
    report.fail("replica_identity",
                quoted + " has no primary key, so updates and deletes cannot be matched to rows",
                "ALTER TABLE " + quoted + " REPLICA IDENTITY USING INDEX " + index +
                    ", or add a primary key");
  } else {
    report.fail("replica_identity",
                quoted +
                    " has no primary key and no unique index on NOT NULL columns, so rows "
                    "cannot be identified in the change stream",
                "add a primary key before migrating online");
  }
}

// The same rule as a rebuild's plan (pg_key.h), which refuses what this warns about; a change
// the server makes in its catalog alone goes ahead whatever the key.
void check_key(Connection& connection, const TableFacts& facts, PreflightReport& report) {
  const std::vector<KeyColumnFacts> columns = read_key_facts(connection, facts.oid);
  if (columns.empty()) {
    return;  // replica_identity reports a missing key
  }
  std::string names;
  for (const KeyColumnFacts& column : columns) {
    if (std::optional<std::string> refusal = key_refusal(column)) {
      report.warn("key", *refusal,
                  "give the key a deterministic collation or a type listed here, or key the "
                  "table by other columns, before a change that rebuilds it");
      return;
    }
    names += (names.empty() ? "" : ", ") + ident(column.name) + " " + column.type;
  }
  report.pass("key",
              "changed rows are matched by the key (" + names + ") with the server's own equality");
}

// What a run of the table makes and removes when it ends: its shadow table and its slot (named
// after the table's oid). Either one there belongs to a running or crashed run of sluice.
void check_leftovers(Connection& connection, const ddl::QualifiedName& table,
                     const TableFacts& facts, PreflightReport& report) {
  const std::string typed = table.schema + "." + table.name;
  const ddl::QualifiedName shadow{table.schema, derived_name(table.name, "_new")};
  const std::string slot = replication::postgres::sluice_object_name(slot_name(facts.oid));
  const std::string fix =
      "resume the crashed run (sluice alter --resume NAME, see sluice "
      "status) or drop what it left with sluice cleanup --table " +
      typed;
  if (relation_exists(connection, shadow)) {
    report.fail(std::string(kLeftoversCheck),
                "the shadow table " + ident(shadow) +
                    " exists: a sluice alter of this table is running, or a crashed one left it",
                fix);
  } else if (connection.query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                                    {slot})) {
    report.fail(std::string(kLeftoversCheck),
                "replication slot " + slot +
                    " exists: a sluice alter of this table is running, or a crashed one left it "
                    "(it keeps WAL)",
                fix);
  } else {
    report.pass(std::string(kLeftoversCheck), "no shadow table or slot of an earlier run");
  }
}

// The reverse slot of the table's last run (pg_revert.h): it retains WAL, and a new run ends it.
void check_reverse_slot(Connection& connection, const TableFacts& facts, PreflightReport& report) {
  const std::string slot = replication::postgres::sluice_object_name(revert_slot_name(facts.oid));
  const std::vector<ResultRow> rows = connection.query(
      "SELECT wal_status, ((pg_current_wal_lsn() - restart_lsn) / 1048576)::bigint::text FROM "
      "pg_replication_slots WHERE slot_name = $1",
      {slot});
  if (rows.empty()) {
    return;
  }
  const std::string fix =
      "sluice contract NAME (sluice status names the run) ends revertibility and drops it";
  if (rows[0][0].value_or("") == "lost" || !rows[0][1]) {
    report.warn("reverse_slot",
                "replication slot " + slot +
                    " of the last sluice alter run of this table lost the WAL it kept (past "
                    "max_slot_wal_keep_size), so that run can no longer be reverted",
                fix);
    return;
  }
  report.warn("reverse_slot",
              "replication slot " + slot +
                  " keeps the last sluice alter run of this table revertible and retains " +
                  *rows[0][1] + " MB of WAL; a new run's cut-over drops it",
              fix);
}

// What a rebuild's copy costs the server while it runs (docs/architecture.md §2).
void report_copy_cost(PreflightReport& report) {
  report.pass("copy_cost",
              "while sluice alter copies the table, its replication slot keeps the WAL written "
              "meanwhile and its snapshot holds back vacuum on every table of the database; a "
              "long copy costs disk and bloat, watch pg_replication_slots and dead tuples. Its "
              "WAL sender may use up to 256 MB of memory to decode the copy's transactions. "
              "The run holds SHARE UPDATE EXCLUSIVE on the table until its cut-over, which keeps "
              "autovacuum off it; sluice lets go of it for any session that waits for it");
}

void check_foreign_keys(Connection& connection, const TableFacts& facts, const std::string& quoted,
                        PreflightReport& report) {
  std::vector<ResultRow> outgoing = connection.query(
      "SELECT conname || ' -> ' || confrelid::regclass::text FROM pg_constraint WHERE conrelid "
      "= $1::oid AND contype = 'f' AND confrelid <> conrelid ORDER BY 1",
      {facts.oid});
  std::vector<ResultRow> incoming = connection.query(
      "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE confrelid = "
      "$1::oid AND contype = 'f' AND conrelid <> confrelid ORDER BY 1",
      {facts.oid});
  std::vector<ResultRow> own = connection.query(
      "SELECT conname FROM pg_constraint WHERE conrelid = $1::oid AND confrelid = $1::oid AND "
      "contype = 'f' ORDER BY 1",
      {facts.oid});
  if (!own.empty()) {
    report.fail("foreign_keys",
                quoted + " has foreign keys referencing itself (" + join(own) +
                    "), which sluice does not re-create",
                "drop them for the migration and re-create them afterwards");
    return;
  }
  if (outgoing.empty() && incoming.empty()) {
    report.pass("foreign_keys", "no foreign keys reference or leave " + quoted);
    return;
  }
  std::string found = !outgoing.empty() ? "it references " + join(outgoing) : "";
  if (!incoming.empty()) {
    found += std::string(found.empty() ? "" : " and ") + "it is referenced by " + join(incoming);
  }
  report.warn("foreign_keys",
              quoted + " takes part in foreign keys (" + found +
                  "); sluice alter re-creates them on the new table at the swap (NOT VALID, "
                  "validated right after), which briefly locks the other tables too");
}

void check_dependent_views(Connection& connection, const TableFacts& facts,
                           const std::string& quoted, PreflightReport& report) {
  std::vector<ResultRow> views = connection.query(
      "SELECT DISTINCT r.ev_class::regclass::text, c.relkind = 'm' FROM pg_depend d JOIN "
      "pg_rewrite r ON r.oid = d.objid JOIN pg_class c ON c.oid = r.ev_class WHERE d.classid = "
      "'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid "
      "AND r.ev_class <> $1::oid ORDER BY 1",
      {facts.oid});
  std::vector<ResultRow> materialized;
  for (const ResultRow& view : views) {
    if (value_or(view[1], "f") == "t") {
      materialized.push_back(view);
    }
  }
  if (views.empty()) {
    report.pass("dependent_views", "no views depend on " + quoted);
  } else if (!materialized.empty()) {
    report.fail("dependent_views",
                "materialized views " + join(materialized) + " depend on " + quoted +
                    " and would keep the old table after a swap",
                "drop them for the migration and re-create them afterwards");
  } else {
    report.warn("dependent_views",
                "views " + join(views) + " depend on " + quoted +
                    "; sluice alter re-creates them on the new table at the swap, unless one "
                    "reads a column the ALTER drops or changes (then it refuses)");
  }
}

void check_triggers(Connection& connection, const TableFacts& facts, const std::string& quoted,
                    PreflightReport& report) {
  std::vector<ResultRow> triggers = connection.query(
      "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal ORDER BY 1",
      {facts.oid});
  if (triggers.empty()) {
    report.pass("triggers", quoted + " has no triggers");
  } else {
    report.warn("triggers", quoted + " has triggers (" + join(triggers) +
                                "); sluice alter re-creates them on the new table, disabled "
                                "while it fills and enabled at the swap");
  }
}

}  // namespace

PreflightReport run_preflight(Connection& connection, const ddl::QualifiedName& table) {
  PreflightReport report;
  const std::string version = value_or(connection.query_value("SHOW server_version"), "unknown");
  report.server = "PostgreSQL " + version.substr(0, version.find(' '));
  report.table = ddl::quote_qualified(ddl::Dialect::postgres, table);
  const TableFacts facts = find_table(connection, table, report.table);
  check_table_kind(facts, report.table, report);
  check_server(connection, report);
  check_publication_rights(connection, facts, report.table, report);
  check_schema_rights(connection, table, report);
  check_inheritance(connection, facts, report.table, report);
  check_replica_identity(connection, facts, report.table, report);
  check_key(connection, facts, report);
  check_foreign_keys(connection, facts, report.table, report);
  check_dependent_views(connection, facts, report.table, report);
  check_triggers(connection, facts, report.table, report);
  check_leftovers(connection, table, facts, report);
  check_reverse_slot(connection, facts, report);
  report_copy_cost(report);
  return report;
}

}  // namespace sluice::postgres

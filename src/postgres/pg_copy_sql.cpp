#include "src/postgres/pg_copy_sql.h"

#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {

std::string copy_rows(const PgTablePlan& plan, const std::string& where, bool skip_conflicts) {
  return "INSERT INTO " + plan.quoted_shadow + " (" + column_names(plan.columns) +
         filled_names(plan.filled) + ") OVERRIDING SYSTEM VALUE SELECT " +
         column_values(plan.columns) + filled_values(plan.filled) + " FROM " + plan.quoted_table +
         " WHERE " + where + (skip_conflicts ? " ON CONFLICT DO NOTHING" : "");
}

std::string copy_missing_rows(const PgTablePlan& plan, const std::string& where) {
  // The converted row under the shadow's column names, so that the key comparison reads the
  // shadow's column on one side and the converted value on the other, never a source column
  // of the same name.
  std::string match;
  for (const std::string& column : plan.key) {
    match += (match.empty() ? "" : " AND ") + std::string("s.") + column + " = v." + column;
  }
  const std::string names = column_names(plan.columns);
  return "INSERT INTO " + plan.quoted_shadow + " (" + names + filled_names(plan.filled) +
         ") OVERRIDING SYSTEM VALUE SELECT v.*" + filled_values(plan.filled) + " FROM (SELECT " +
         column_values(plan.columns) + " FROM " + plan.quoted_table + " WHERE " + where +
         ") AS v (" + names + ") WHERE NOT EXISTS (SELECT 1 FROM " + plan.quoted_shadow +
         " AS s WHERE " + match + ")";
}

std::string delete_where(const std::string& table, const std::string& where) {
  return "DELETE FROM " + table + " WHERE " + where;
}

std::string page_range() {
  return "ctid >= $1::tid AND ctid < $2::tid";
}

std::string tid_of(std::uint64_t page) {
  return "(" + std::to_string(page) + ",0)";
}

std::string table_pages() {
  return "SELECT (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text, "
         "pg_relation_filenode(c.oid)::text, CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN "
         "(c.reltuples / c.relpages)::text ELSE '0' END FROM pg_class c WHERE c.oid = "
         "$1::regclass";
}

std::string table_file_node() {
  return "SELECT pg_relation_filenode($1::regclass)::text";
}

std::string begin_snapshot_transaction() {
  return "BEGIN ISOLATION LEVEL REPEATABLE READ";
}

std::string keep_idle_transaction() {
  return "SET idle_in_transaction_session_timeout = 0";
}

std::string take_rewrite_lock(const std::string& table) {
  return "LOCK TABLE " + table + " IN SHARE UPDATE EXCLUSIVE MODE NOWAIT";
}

std::string lock_waiter() {
  return "SELECT l.pid::text, l.mode, a.application_name FROM pg_locks l LEFT JOIN "
         "pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'relation' AND l.relation = "
         "$1::oid AND NOT l.granted AND pg_backend_pid() = ANY(pg_blocking_pids(l.pid)) LIMIT 1";
}

std::string export_snapshot() {
  return "SELECT pg_export_snapshot()";
}

std::string slot_in_use() {
  return "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL";
}

std::string truncate_table(const std::string& table) {
  return "TRUNCATE " + table;
}

namespace {

std::string keys_from(const std::string& table, const std::vector<std::string>& key, bool after) {
  return "SELECT " + key_list(key) + " FROM " + table +
         (after ? " WHERE " + key_compare(key, ">", 1) : "");
}

}  // namespace

std::string nth_key(const std::string& table, const std::vector<std::string>& key, bool after,
                    std::uint64_t offset) {
  return keys_from(table, key, after) + " ORDER BY " + key_list(key) + " LIMIT 1 OFFSET " +
         std::to_string(offset);
}

std::string last_key(const std::string& table, const std::vector<std::string>& key, bool after) {
  return keys_from(table, key, after) + " ORDER BY " + key_list(key, " DESC") + " LIMIT 1";
}

std::string shadow_hashed(const std::vector<PgColumn>& columns) {
  std::string list;
  for (const PgColumn& column : columns) {
    list += (list.empty() ? "" : ", ") + column.name + (column.hashable ? "" : "::text");
  }
  return list;
}

std::string source_hashed(const std::vector<PgColumn>& columns) {
  std::string list;
  for (const PgColumn& column : columns) {
    list += (list.empty() ? "" : ", ") +
            (column.hashable ? column.value : "(" + column.value + ")::text");
  }
  return list;
}

std::string chunk_checksum(const std::string& table, const std::string& hashed,
                           const std::string& where) {
  return "SELECT count(*), coalesce(bit_xor(hash_record_extended(ROW(" + hashed +
         "), 0)), 0) FROM " + table + " WHERE " + where;
}

std::string set_transaction_snapshot(const std::string& snapshot) {
  return "SET TRANSACTION SNAPSHOT " + quote_literal(snapshot);
}

}  // namespace sluice::postgres

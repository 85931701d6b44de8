#include "src/postgres/pg_column_sql.h"

#include "src/column_backend.h"

namespace sluice::postgres {

std::string relation_named_sql() {
  return "SELECT c.relkind::text, c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON "
         "n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2";
}

std::string index_named_sql() {
  return "SELECT tn.nspname, t.relname, i.indisunique::text, i.indisvalid::text, "
         "(i.indexprs IS NULL AND i.indpred IS NULL AND i.indnkeyatts = i.indnatts AND "
         "am.amname = 'btree' AND (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM "
         "unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON "
         "a.attrelid = i.indrelid AND a.attnum = k.attnum) = $3::text[])::text, "
         "pg_get_indexdef(i.indexrelid) "
         "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
         "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam "
         "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace "
         "WHERE n.nspname = $1 AND c.relname = $2";
}

std::string not_null_check_sql() {
  return "SELECT convalidated::text, (contype = 'c' AND regexp_replace(pg_get_constraintdef(oid), "
         "' NOT VALID$', '') = 'CHECK ((' || quote_ident($4) || ' IS NOT NULL))')::text, "
         "pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = (quote_ident($1) || '.' "
         "|| quote_ident($2))::regclass AND conname = $3";
}

std::string skip_locked_backfill_sql(const std::string& table, const std::string& column,
                                     const std::string& expression, const std::string& rows,
                                     const std::vector<std::string>& key,
                                     const std::string& predicate) {
  // The locked keys get names of their own, so that the expression's column names stay
  // unambiguous in the UPDATE's FROM; the UPDATE keeps the range predicate so that the planner
  // walks the key's index instead of the whole table.
  std::string keys;
  std::string names;
  std::string join;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const std::string name = "sluice_key_" + std::to_string(i + 1);
    keys += (keys.empty() ? "" : ", ") + key[i];
    names += (names.empty() ? "" : ", ") + name;
    join += " AND " + table + "." + key[i] + " = locked." + name;
  }
  const std::string todo = " FROM " + table + " WHERE " + predicate + " AND (" + rows + ")";
  return "WITH todo AS (SELECT count(*) AS n" + todo + "), locked (" + names + ") AS (SELECT " +
         keys + todo + " ORDER BY " + keys + " FOR UPDATE SKIP LOCKED), written AS (UPDATE " +
         table + " SET " + column + " = (" + expression + ") FROM locked WHERE " + predicate +
         join +
         " RETURNING 1) SELECT (SELECT count(*) FROM written), greatest((SELECT n FROM todo) - "
         "(SELECT count(*) FROM locked), 0)";
}

std::string sessions_sql(const std::vector<std::string>& own_sessions,
                         const std::string& condition) {
  const std::string own = session_list("pg_backend_pid()", own_sessions);
  return "SELECT pid::text, coalesce(usename::text, ''), coalesce(client_addr::text, 'local'), "
         "application_name FROM pg_stat_activity WHERE pid NOT IN (" +
         own + ") AND backend_type = 'client backend' AND (" + condition + ")";
}

}  // namespace sluice::postgres

// SQL text of the PostgreSQL copy and verification: INSERT … SELECT of a key range, chunk ends
// and chunk checksums.
#include "src/postgres/pg_copy_sql.h"

#include <doctest/doctest.h>

#include "replication/postgres/pgoutput_client.h"
#include "src/postgres/pg_snapshot_copy.h"

using namespace sluice::postgres;

namespace {

PgTablePlan two_columns() {
  PgTablePlan plan;
  plan.quoted_table = "\"public\".\"t\"";
  plan.quoted_shadow = "\"public\".\"_t_new\"";
  plan.key = {"\"id\""};
  plan.key_in_mapped = {0};
  plan.columns = {{"\"id\"", "integer", "bigint", "CAST(\"id\" AS bigint)", true},
                  {"\"doc\"", "json", "json", "\"doc\"", false}};
  return plan;
}

}  // namespace

TEST_CASE("a range is copied by one INSERT … SELECT, skipping conflicts only when asked") {
  const PgTablePlan plan = two_columns();
  CHECK(copy_rows(plan, "\"id\" <= $1", false) ==
        "INSERT INTO \"public\".\"_t_new\" (\"id\", \"doc\") OVERRIDING SYSTEM VALUE SELECT "
        "CAST(\"id\" AS bigint), \"doc\" FROM \"public\".\"t\" WHERE \"id\" <= $1");
  CHECK(copy_rows(plan, "true", true) ==
        "INSERT INTO \"public\".\"_t_new\" (\"id\", \"doc\") OVERRIDING SYSTEM VALUE SELECT "
        "CAST(\"id\" AS bigint), \"doc\" FROM \"public\".\"t\" WHERE true ON CONFLICT DO NOTHING");
  CHECK(delete_where(plan.quoted_shadow, "\"id\" > $1") ==
        "DELETE FROM \"public\".\"_t_new\" WHERE \"id\" > $1");
}

TEST_CASE("the copy reads ranges of pages under an imported snapshot, whatever the key") {
  const PgTablePlan plan = two_columns();
  CHECK(copy_rows(plan, page_range(), false) ==
        "INSERT INTO \"public\".\"_t_new\" (\"id\", \"doc\") OVERRIDING SYSTEM VALUE SELECT "
        "CAST(\"id\" AS bigint), \"doc\" FROM \"public\".\"t\" WHERE ctid >= $1::tid AND "
        "ctid < $2::tid");
  // A redo skips the rows of the key the shadow has, compared on the converted value.
  CHECK(copy_missing_rows(plan, page_range()) ==
        "INSERT INTO \"public\".\"_t_new\" (\"id\", \"doc\") OVERRIDING SYSTEM VALUE SELECT v.* "
        "FROM (SELECT CAST(\"id\" AS bigint), \"doc\" FROM \"public\".\"t\" WHERE ctid >= "
        "$1::tid AND ctid < $2::tid) AS v (\"id\", \"doc\") WHERE NOT EXISTS (SELECT 1 FROM "
        "\"public\".\"_t_new\" AS s WHERE s.\"id\" = v.\"id\")");
  CHECK(tid_of(0) == "(0,0)");
  CHECK(tid_of(4294967295u) == "(4294967295,0)");
  CHECK(table_pages() ==
        "SELECT (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text, "
        "pg_relation_filenode(c.oid)::text, CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN "
        "(c.reltuples / c.relpages)::text ELSE '0' END FROM pg_class c WHERE c.oid = "
        "$1::regclass");
  CHECK(table_file_node() == "SELECT pg_relation_filenode($1::regclass)::text");
  CHECK(begin_snapshot_transaction() == "BEGIN ISOLATION LEVEL REPEATABLE READ");
  CHECK(keep_idle_transaction() == "SET idle_in_transaction_session_timeout = 0");
  CHECK(export_snapshot() == "SELECT pg_export_snapshot()");
  CHECK(slot_in_use() ==
        "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL");
  CHECK(truncate_table(plan.quoted_shadow) == "TRUNCATE \"public\".\"_t_new\"");
}

TEST_CASE("the copy's lock keeps rewrites off without queueing, and sees who waits for it") {
  CHECK(take_rewrite_lock("\"public\".\"t\"") ==
        "LOCK TABLE \"public\".\"t\" IN SHARE UPDATE EXCLUSIVE MODE NOWAIT");
  // Only sessions this one blocks count: a waiter for another holder's lock is not sluice's.
  CHECK(lock_waiter().find("NOT l.granted AND pg_backend_pid() = ANY(pg_blocking_pids(l.pid))") !=
        std::string::npos);
  CHECK(lock_waiter().find("l.relation = $1::oid") != std::string::npos);
}

TEST_CASE("chunk ends are read in key order, after the previous chunk when there is one") {
  const std::string table = "\"public\".\"t\"";
  CHECK(nth_key(table, {"\"id\""}, false, 999) ==
        "SELECT \"id\" FROM \"public\".\"t\" ORDER BY \"id\" LIMIT 1 OFFSET 999");
  CHECK(nth_key(table, {"\"a\"", "\"b\""}, true, 9) ==
        "SELECT \"a\", \"b\" FROM \"public\".\"t\" WHERE (\"a\", \"b\") > ($1, $2) ORDER BY \"a\", "
        "\"b\" LIMIT 1 OFFSET 9");
  CHECK(last_key(table, {"\"a\"", "\"b\""}, true) ==
        "SELECT \"a\", \"b\" FROM \"public\".\"t\" WHERE (\"a\", \"b\") > ($1, $2) ORDER BY \"a\" "
        "DESC, \"b\" DESC LIMIT 1");
  CHECK(last_key(table, {"\"id\""}, false) ==
        "SELECT \"id\" FROM \"public\".\"t\" ORDER BY \"id\" DESC LIMIT 1");
}

TEST_CASE("both sides hash the same converted values, as text where a type has no hash") {
  const PgTablePlan plan = two_columns();
  CHECK(shadow_hashed(plan.columns) == "\"id\", \"doc\"::text");
  CHECK(source_hashed(plan.columns) == "CAST(\"id\" AS bigint), (\"doc\")::text");
  CHECK(chunk_checksum(plan.quoted_shadow, shadow_hashed(plan.columns), "\"id\" <= $1") ==
        "SELECT count(*), coalesce(bit_xor(hash_record_extended(ROW(\"id\", \"doc\"::text), 0)), "
        "0) FROM \"public\".\"_t_new\" WHERE \"id\" <= $1");
  CHECK(set_transaction_snapshot("00000003-0000001B-1") ==
        "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'");
}

TEST_CASE("an added column with a stable default gets its one value from the copy") {
  PgTablePlan plan = two_columns();
  plan.filled = {{"\"created\"", "'2026-12-06 02:50:21+00'::timestamp with time zone"}};
  CHECK(copy_rows(plan, "true", false) ==
        "INSERT INTO \"public\".\"_t_new\" (\"id\", \"doc\", \"created\") OVERRIDING SYSTEM VALUE "
        "SELECT CAST(\"id\" AS bigint), \"doc\", '2026-12-06 02:50:21+00'::timestamp with time "
        "zone FROM \"public\".\"t\" WHERE true");
  CHECK(copy_missing_rows(plan, "true") ==
        "INSERT INTO \"public\".\"_t_new\" (\"id\", \"doc\", \"created\") OVERRIDING SYSTEM VALUE "
        "SELECT v.*, '2026-12-06 02:50:21+00'::timestamp with time zone FROM (SELECT CAST(\"id\" "
        "AS bigint), \"doc\" FROM \"public\".\"t\" WHERE true) AS v (\"id\", \"doc\") WHERE NOT "
        "EXISTS (SELECT 1 FROM \"public\".\"_t_new\" AS s WHERE s.\"id\" = v.\"id\")");
}

TEST_CASE("a chunk's pages follow its rows, bounded by the walsender's decoding memory") {
  using sluice::postgres::chunk_pages;
  using sluice::postgres::kMaxChunkPages;
  CHECK(chunk_pages(1000, 50.0, 100000) == 20);
  CHECK(chunk_pages(1001, 50.0, 100000) == 21);
  CHECK(chunk_pages(10, 50.0, 100000) == 1);                       // at least one page
  CHECK(chunk_pages(1000, 50.0, 7) == 7);                          // never past the table's end
  CHECK(chunk_pages(100000000, 50.0, 1000000) == kMaxChunkPages);  // however fast the copy
}

TEST_CASE("the stream raises the walsender's decoding memory and keeps a higher setting") {
  const std::string sql = sluice::replication::postgres::raise_decoding_memory_sql(262144);
  CHECK(sql ==
        "SELECT set_config('logical_decoding_work_mem', greatest(pg_size_bytes(current_setting("
        "'logical_decoding_work_mem')) / 1024, 262144)::text || 'kB', false)");
}

// SQL text of the phase metadata on PostgreSQL: layout, lease statements, locks, refusals.
#include "src/postgres/pg_phase_store_sql.h"

#include <doctest/doctest.h>

using namespace sluice;

namespace {
const std::unique_ptr<const PhaseStoreSql> kSql = postgres::pg_phase_store_sql("sluice");
}  // namespace

TEST_CASE("PostgreSQL phase metadata: runners are kept apart by a transaction's advisory lock") {
  const PhaseStoreSql::Lock lock = kSql->lock("'sluice_metadata:sluice'", 30);
  CHECK(lock.in_transaction);
  CHECK(lock.take == "SELECT 1 FROM pg_advisory_xact_lock(hashtext('sluice_metadata:sluice'))");
  CHECK_FALSE(lock.release);
}

TEST_CASE("PostgreSQL phase metadata: the layout is safe to run again as it is") {
  const PhaseStoreSql::LayoutStep first = kSql->layout_step(1, "'sluice'");
  CHECK_FALSE(first.done);
  REQUIRE(first.statements.size() == 5);
  CHECK(first.statements[0] == "CREATE SCHEMA IF NOT EXISTS \"sluice\"");
  CHECK(first.statements[2] ==
        "CREATE INDEX IF NOT EXISTS migrations_table_phase ON \"sluice\".\"migrations\" "
        "(table_name, phase)");
  const PhaseStoreSql::LayoutStep second = kSql->layout_step(2, "'sluice'");
  CHECK_FALSE(second.done);
  CHECK(second.statements ==
        std::vector<std::string>{
            "ALTER TABLE \"sluice\".\"migrations\" ADD COLUMN IF NOT EXISTS error text"});
  CHECK(kSql->metadata_exists("'sluice'") ==
        "SELECT to_regclass(format('%I.%I', 'sluice', 'metadata')) IS NOT NULL");
}

TEST_CASE("PostgreSQL phase metadata: times are clock_timestamp(), read back as UTC text") {
  CHECK(kSql->take_over(7, "'h:1'") ==
        "UPDATE \"sluice\".\"migrations\" SET owner = 'h:1', lease_until = clock_timestamp() + "
        "interval '30 seconds' WHERE id = 7 AND (lease_until IS NULL OR lease_until <= "
        "clock_timestamp())");
  const std::string all = kSql->select(std::nullopt);
  CHECK(all.find(", to_char(lease_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
                 "COALESCE(lease_until > clock_timestamp(), FALSE), error, to_char(planned_at") !=
        std::string::npos);
  CHECK(all.ends_with(" FROM \"sluice\".\"migrations\" WHERE TRUE ORDER BY id"));
  CHECK(kSql->in_progress("'t'") ==
        "table_name = 't' AND phase IN ('planned', 'expanding', 'backfilling')");
  CHECK(kSql->seconds_since(4, Phase::switched) ==
        "SELECT floor(extract(epoch FROM clock_timestamp() - switched_at))::bigint FROM "
        "\"sluice\".\"migrations\" WHERE id = 4");
  CHECK(kSql->last_insert_id() == "SELECT lastval()");
}

TEST_CASE("PostgreSQL phase metadata: a missing privilege is named with its fix") {
  const ServerError denied(ServerErrorKind::other, "42501", "permission denied for database d");
  CHECK(kSql->refusal(denied)->starts_with(
      "cannot keep sluice's phase metadata in schema \"sluice\" (permission denied for database "
      "d); let the user create it (GRANT CREATE ON DATABASE)"));
  CHECK_FALSE(kSql->refusal(ServerError(ServerErrorKind::other, "42P01", "no such table")));
}

// SQL text of the phase metadata on MySQL/MariaDB: layout, lease statements, locks, refusals.
#include "src/mysql/mysql_phase_store_sql.h"

#include <doctest/doctest.h>
#include <mysqld_error.h>

using namespace sluice;

namespace {
const std::unique_ptr<const PhaseStoreSql> kSql = mysql::mysql_phase_store_sql("app");
}  // namespace

TEST_CASE("MySQL phase metadata: runners are kept apart by a named lock of the session") {
  const PhaseStoreSql::Lock lock = kSql->lock("'sluice_metadata:app'", 30);
  CHECK_FALSE(lock.in_transaction);
  CHECK(lock.take == "SELECT GET_LOCK('sluice_metadata:app', 30)");
  CHECK(lock.release == "SELECT RELEASE_LOCK('sluice_metadata:app')");
}

TEST_CASE("MySQL phase metadata: layout 1 creates both tables, layout 2 adds error once") {
  const PhaseStoreSql::LayoutStep first = kSql->layout_step(1, "'app'");
  CHECK_FALSE(first.done);
  REQUIRE(first.statements.size() == 2);
  CHECK(first.statements[0].starts_with("CREATE TABLE IF NOT EXISTS `app`.`sluice_migrations`"));
  CHECK(first.statements[0].find("planned_at DATETIME(6) NULL") != std::string::npos);
  CHECK(first.statements[1].starts_with("CREATE TABLE IF NOT EXISTS `app`.`sluice_metadata`"));
  const PhaseStoreSql::LayoutStep second = kSql->layout_step(2, "'app'");
  CHECK(second.done ==
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND "
        "TABLE_NAME = 'sluice_migrations' AND COLUMN_NAME = 'error'");
  CHECK(
      second.statements ==
      std::vector<std::string>{"ALTER TABLE `app`.`sluice_migrations` ADD COLUMN error TEXT NULL"});
  CHECK(kSql->write_version(2) ==
        std::vector<std::string>{"DELETE FROM `app`.`sluice_metadata`",
                                 "INSERT INTO `app`.`sluice_metadata` VALUES (2)"});
}

TEST_CASE("MySQL phase metadata: leases run on the server's UTC clock") {
  CHECK(kSql->take_over(7, "'h:1'") ==
        "UPDATE `app`.`sluice_migrations` SET owner = 'h:1', lease_until = UTC_TIMESTAMP(6) + "
        "INTERVAL 30 SECOND WHERE id = 7 AND (lease_until IS NULL OR lease_until <= "
        "UTC_TIMESTAMP(6))");
  CHECK(kSql->renew_lease(7, "'h:1'") ==
        "UPDATE `app`.`sluice_migrations` SET lease_until = UTC_TIMESTAMP(6) + INTERVAL 30 "
        "SECOND WHERE id = 7 AND owner = 'h:1' AND lease_until IS NOT NULL");
  CHECK(kSql->release_lease(7, "'h:1'") ==
        "UPDATE `app`.`sluice_migrations` SET lease_until = NULL WHERE id = 7 AND owner = 'h:1'");
}

TEST_CASE("MySQL phase metadata: records are selected in record_from_row's order") {
  const std::string all = kSql->select(std::nullopt);
  CHECK(
      all.starts_with("SELECT id, name, table_name, operation, spec, phase, checkpoint, "
                      "grace_seconds, owner, lease_until, COALESCE(lease_until > "
                      "UTC_TIMESTAMP(6), FALSE), error, planned_at, expanding_at"));
  CHECK(all.ends_with(" FROM `app`.`sluice_migrations` WHERE TRUE ORDER BY id"));
  CHECK(kSql->in_progress("'t'") ==
        "table_name = 't' AND phase IN ('planned', 'expanding', 'backfilling')");
  CHECK(kSql->set_phase(3, Phase::aborted, "'gone'") ==
        "UPDATE `app`.`sluice_migrations` SET phase = 'aborted', aborted_at = UTC_TIMESTAMP(6), "
        "error = 'gone' WHERE id = 3");
  CHECK(kSql->set_phase(3, Phase::switched, std::nullopt) ==
        "UPDATE `app`.`sluice_migrations` SET phase = 'switched', switched_at = "
        "UTC_TIMESTAMP(6) WHERE id = 3");
}

TEST_CASE("MySQL phase metadata: a missing privilege or database is named with its fix") {
  const ServerError denied(ServerErrorKind::other, std::to_string(ER_TABLEACCESS_DENIED_ERROR),
                           "CREATE command denied");
  CHECK(kSql->refusal(denied) ==
        "cannot keep sluice's phase metadata in `app` (CREATE command denied); grant CREATE, "
        "ALTER, SELECT, INSERT and UPDATE on it, or choose another database with "
        "--metadata-schema");
  const ServerError missing(ServerErrorKind::other, std::to_string(ER_BAD_DB_ERROR), "no db");
  CHECK(kSql->refusal(missing)->starts_with("the database `app` for sluice's phase metadata"));
  CHECK_FALSE(kSql->refusal(ServerError(ServerErrorKind::deadlock, "1213", "deadlock")));
}

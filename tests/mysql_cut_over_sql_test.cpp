#include "src/mysql/mysql_cut_over_sql.h"

#include <doctest/doctest.h>

#include "src/mysql/mysql_sql.h"
#include "tests/mysql_table_plan_fixture.h"

using namespace sluice;
using namespace sluice::mysql;
using namespace sluice::mysql::testing;

TEST_CASE("the sentry carries the comment cleanup and resume recognise it by") {
  CHECK(create_sentry_sql(orders_plan().swap) ==
        "CREATE TABLE `shop`.`orders_sluice_old` (sentry INT) COMMENT = 'sluice cut-over sentry'");
}

TEST_CASE("session A locks the table, the sentry and the shadow WRITE in one LOCK TABLES") {
  CHECK(lock_tables_sql(cut_over_locks(orders_plan()), std::chrono::milliseconds(1500)) ==
        std::vector<std::string>{
            "SET SESSION lock_wait_timeout = 2",
            "LOCK TABLES `shop`.`orders` WRITE, `shop`.`orders_sluice_old` WRITE, "
            "`shop`.`orders_sluice_new` WRITE"});
  CHECK(lock_wait_timeout_sql(12) == "SET SESSION lock_wait_timeout = 12");
}

TEST_CASE("session B's RENAME moves the table onto the sentry's name and the shadow onto its") {
  CHECK(swap_rename_sql(orders_plan()) ==
        "RENAME TABLE `shop`.`orders` TO `shop`.`orders_sluice_old`, `shop`.`orders_sluice_new` "
        "TO `shop`.`orders`");
  CHECK(rename_queued_sql(42) ==
        "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = 42 AND STATE LIKE 'Waiting for "
        "table metadata lock%'");
}

TEST_CASE("the reader guard finds sessions that read the table and have not written it") {
  CHECK(metadata_lock_view_sql() ==
        "SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND "
        "PLUGIN_STATUS = 'ACTIVE'");
  CHECK(process_privilege_probe_sql() == "SELECT 1 FROM information_schema.INNODB_TRX LIMIT 0");
  CHECK(readers_before_write_sql("'shop'", "'orders'") ==
        "SELECT THREAD_ID FROM information_schema.METADATA_LOCK_INFO WHERE LOCK_TYPE = 'Table "
        "metadata lock' AND TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders' GROUP BY THREAD_ID "
        "HAVING MIN(LOCK_MODE IN ('MDL_SHARED', 'MDL_SHARED_HIGH_PRIO', 'MDL_SHARED_READ')) = 1");
  CHECK(kill_query_sql(42) == "KILL QUERY 42");
}

TEST_CASE("the guarded lock looks for readers and queues the lock in one statement") {
  CHECK(guarded_lock_sql("'LOCK TABLES `t` WRITE'", "SELECT 7") ==
        "BEGIN NOT ATOMIC IF EXISTS (SELECT 7) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
        "'a session read the table and has not written it yet'; END IF; EXECUTE IMMEDIATE "
        "'LOCK TABLES `t` WRITE'; END");
}

TEST_CASE("a definition compared at the cut-over ignores only the AUTO_INCREMENT option") {
  const std::string created =
      "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `note` varchar(20) DEFAULT "
      "' AUTO_INCREMENT=5',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT "
      "CHARSET=utf8mb4";
  const std::string later =
      "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `note` varchar(20) DEFAULT "
      "' AUTO_INCREMENT=5',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=43917 DEFAULT "
      "CHARSET=utf8mb4";
  CHECK(comparable_definition(created) == comparable_definition(later));
  CHECK(comparable_definition(created).find("' AUTO_INCREMENT=5'") != std::string::npos);
  CHECK(comparable_definition(created).find("AUTO_INCREMENT=42") == std::string::npos);
  const std::string altered =
      "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `note` varchar(20) DEFAULT "
      "' AUTO_INCREMENT=5',\n  `sneaky` int(11) DEFAULT 7,\n  PRIMARY KEY (`id`)\n) "
      "ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4";
  CHECK(comparable_definition(created) != comparable_definition(altered));
  CHECK(comparable_definition("CREATE TABLE `t` (\n  `id` int(11)\n) ENGINE=InnoDB") ==
        "CREATE TABLE `t` (\n  `id` int(11)\n) ENGINE=InnoDB");
}

TEST_CASE("the cut-over finds its own RENAME among the binlog's events") {
  CHECK(binlog_events_sql("'bin.000007'", 1234, 2000, 1000) ==
        "SHOW BINLOG EVENTS IN 'bin.000007' FROM 1234 LIMIT 2000, 1000");
  CHECK(binlog_events_sql("'bin.000008'", 0, 0, 1000) ==
        "SHOW BINLOG EVENTS IN 'bin.000008' LIMIT 0, 1000");
  const std::string rename =
      "RENAME TABLE `d`.`t` TO `d`.`t_sluice_old`, `d`.`t_sluice_new` TO "
      "`d`.`t`";
  using Event = std::vector<std::optional<std::string>>;
  CHECK(end_of_statement(Event{"bin.000007", "1300", "Query", "1", "1450", "use `d`; " + rename},
                         rename) == 1450u);
  CHECK_FALSE(end_of_statement(Event{"bin.000007", "1200", "Gtid", "1", "1300", "BEGIN GTID 0-1-9"},
                               rename));
  CHECK_FALSE(end_of_statement(
      Event{"bin.000007", "1450", "Query", "1", "1600", "use `d`; DROP TABLE `d`.`t_sluice_old`"},
      rename));
  CHECK_FALSE(
      end_of_statement(Event{"bin.000007", "1450", "Query", "1", std::nullopt, rename}, rename));
}

TEST_CASE("a Gtid event names the transaction of the events after it") {
  using Event = std::vector<std::optional<std::string>>;
  CHECK(gtid_of_event(Event{"bin.000007", "1200", "Gtid", "1", "1300", "GTID 0-1-9"}) == "0-1-9");
  CHECK(gtid_of_event(Event{"bin.000007", "1200", "Gtid", "1", "1300", "BEGIN GTID 0-1-10"}) ==
        "0-1-10");
  CHECK(gtid_of_event(Event{"bin.000007", "1200", "Gtid", "1", "1300",
                            "BEGIN GTID 0-1-11 cid=42"}) == "0-1-11");
  CHECK_FALSE(gtid_of_event(Event{"bin.000007", "1300", "Query", "1", "1450", "GTID 0-1-9"}));
}

#include "src/mysql/mysql_cut_over_sql.h"

#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {

std::string create_sentry_sql(const ddl::QualifiedName& swap) {
  return "CREATE TABLE " + quote(swap) + " (sentry INT) COMMENT = '" + std::string(kSentryComment) +
         "'";
}

std::vector<TableLockRequest> cut_over_locks(const MysqlTablePlan& plan) {
  return {{plan.source.name, LockMode::exclusive},
          {plan.swap, LockMode::exclusive},
          {plan.shadow, LockMode::exclusive}};
}

std::string swap_rename_sql(const MysqlTablePlan& plan) {
  return "RENAME TABLE " + quote(plan.source.name) + " TO " + quote(plan.swap) + ", " +
         quote(plan.shadow) + " TO " + quote(plan.source.name);
}

std::string rename_queued_sql(unsigned long session_id) {
  return "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = " + std::to_string(session_id) +
         " AND STATE LIKE 'Waiting for table metadata lock%'";
}

std::string metadata_lock_view_sql() {
  return "SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND "
         "PLUGIN_STATUS = 'ACTIVE'";
}

std::string process_privilege_probe_sql() {
  return "SELECT 1 FROM information_schema.INNODB_TRX LIMIT 0";
}

std::string readers_before_write_sql(const std::string& schema_literal,
                                     const std::string& name_literal) {
  return "SELECT THREAD_ID FROM information_schema.METADATA_LOCK_INFO WHERE LOCK_TYPE = 'Table "
         "metadata lock' AND TABLE_SCHEMA = " +
         schema_literal + " AND TABLE_NAME = " + name_literal +
         " GROUP BY THREAD_ID HAVING MIN(LOCK_MODE IN ('MDL_SHARED', 'MDL_SHARED_HIGH_PRIO', "
         "'MDL_SHARED_READ')) = 1";
}

std::string guarded_lock_sql(const std::string& lock_literal, const std::string& readers_sql) {
  return "BEGIN NOT ATOMIC IF EXISTS (" + readers_sql +
         ") THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a session read the table and has "
         "not written it yet'; END IF; EXECUTE IMMEDIATE " +
         lock_literal + "; END";
}

std::string kill_query_sql(unsigned long session_id) {
  return "KILL QUERY " + std::to_string(session_id);
}

}  // namespace sluice::mysql

#include "src/mysql/mysql_cut_over_sql.h"

#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {

std::string create_sentry_sql(const ddl::QualifiedName& swap) {
  return "CREATE TABLE " + quote(swap) + " (sentry INT) COMMENT = '" + std::string(kSentryComment) +
         "'";
}

std::vector<TableLockRequest> cut_over_locks(const MysqlTablePlan& plan) {
  return {{plan.source.name, LockMode::exclusive}, {plan.swap, LockMode::exclusive}};
}

std::string swap_rename_sql(const MysqlTablePlan& plan) {
  return "RENAME TABLE " + quote(plan.source.name) + " TO " + quote(plan.swap) + ", " +
         quote(plan.shadow) + " TO " + quote(plan.source.name);
}

std::string rename_queued_sql(unsigned long session_id) {
  return "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = " + std::to_string(session_id) +
         " AND STATE LIKE 'Waiting for table metadata lock%'";
}

}  // namespace sluice::mysql

#include "src/mysql/mysql_apply.h"

#include "src/lock_retry.h"
#include "src/mysql/mysql_apply_sql.h"

namespace sluice::mysql {

void MysqlApply::replace_rows(const std::vector<replication::Row>& delete_keys,
                              const std::vector<replication::Row>& rows) {
  std::vector<std::string> statements = delete_keys_sql(plan_, delete_keys);
  for (std::string& statement : replace_rows_sql(plan_, rows)) {
    statements.push_back(std::move(statement));
  }
  // Deleting the batch's keys and writing their latest images is safe to redo: a batch whose
  // commit was not acknowledged before the session was lost lands the same way again, and one
  // that lost a row lock rolled back whole.
  sessions_.reconnecting("applying changes", [&] {
    return retry_lock_waits("applying changes", row_lock_policy(), [&] {
      Connection& apply = sessions_.apply();
      Transaction transaction(apply, "START TRANSACTION");
      for (const std::string& statement : statements) {
        apply.execute(statement);
      }
      transaction.commit();
      return 0;
    });
  });
}

}  // namespace sluice::mysql

#pragma once

#include <vector>

#include "replication/change_event.h"
#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_table_plan.h"

namespace sluice::mysql {

// The apply role of a MySQL rebuild (ShadowWriter): writes the change stream's batches into the
// shadow on the applier's session (MysqlSessions::apply).
class MysqlApply {
 public:
  MysqlApply(MysqlSessions& sessions, const MysqlTablePlan& plan)
      : sessions_(sessions), plan_(plan) {}

  // ShadowWriter::replace_rows: deletes `delete_keys` and writes `rows` (full images of the
  // mapped columns) in one transaction, retried as a whole when the session is lost or a row
  // lock is lost. MySQL row images are always complete, so it takes no `fill_from`.
  void replace_rows(const std::vector<replication::Row>& delete_keys,
                    const std::vector<replication::Row>& rows);

 private:
  MysqlSessions& sessions_;
  const MysqlTablePlan& plan_;
};

}  // namespace sluice::mysql

#pragma once

#include <vector>

#include "replication/change_event.h"
#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/resync_applier.h"

namespace sluice::mysql {

// The apply role of a MySQL rebuild (ShadowResync, docs/architecture.md §3): re-synchronises
// the shadow's rows for a batch of changed keys from the source, on the applier's session
// (MysqlSessions::apply), which reads the source without locking it.
class MysqlApply : public ShadowResync {
 public:
  MysqlApply(MysqlSessions& sessions, const MysqlTablePlan& plan)
      : sessions_(sessions), plan_(plan) {}

  // Waits until the server has made every transaction logged up to `through` visible
  // (visible_log_position), then, in one transaction, deletes the shadow rows of `keys` and
  // copies the source's current rows for them (REPLACE … SELECT: the server matches keys by
  // collation). Retried as a whole after a lost session or a lost row lock. Throws Error when
  // the server has not made `through` visible within a minute.
  void resync(const std::vector<replication::Row>& keys,
              const replication::Position& through) override;

 private:
  void wait_until_visible(const replication::Position& through);

  MysqlSessions& sessions_;
  const MysqlTablePlan& plan_;
};

}  // namespace sluice::mysql

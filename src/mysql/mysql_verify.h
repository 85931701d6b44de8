#pragma once

#include <memory>

#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/rebuild_backend.h"
#include "src/verifier.h"

namespace sluice::mysql {

// The verify role of a MySQL rebuild: opens the two consistent snapshots the engine's
// verify_chunks() compares, one per table, each summed with CRC32 chunk checksums
// (mysql_verify_sql.h). With a new UNIQUE key (plan.added_unique_keys), rows of the table
// missing from the shadow are counted as discarded when they duplicate a shadow row, and
// reported as lost when they do not.
class MysqlVerify {
 public:
  MysqlVerify(MysqlSessions& sessions, const MysqlTablePlan& plan)
      : sessions_(sessions), plan_(plan) {}

  // RebuildBackend::open_verify_snapshots: blocks writes with a TableLock (the cut-over's
  // bounded wait and retries, cut_over_lock_policy(options)) only while the stream drains and
  // the snapshots open. The snapshots read plan, which must outlive them.
  std::unique_ptr<VerifySnapshots> open_snapshots(const RebuildOptions& options,
                                                  const DrainTo& drain_to);

 private:
  MysqlSessions& sessions_;
  const MysqlTablePlan& plan_;
};

}  // namespace sluice::mysql

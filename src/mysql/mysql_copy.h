#pragma once

#include <cstdint>
#include <optional>

#include "replication/change_event.h"
#include "src/mysql/mysql_connection.h"
#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/verifier.h"

namespace sluice::mysql {

// The copy role of a MySQL rebuild (CopySource): cuts the table into key ranges and copies
// each with one INSERT IGNORE … SELECT on the main session, which reads without locking (see
// MysqlSessions). A chunk or a re-copy is safe to redo, so a lost session is got back and the
// unit run again; a row lock the application holds is waited for with retries.
class MysqlCopy {
 public:
  MysqlCopy(MysqlSessions& sessions, const MysqlTablePlan& plan)
      : sessions_(sessions), plan_(plan) {}

  // CopySource::chunk_end: a span of key values for a single integer key (no row is read
  // twice), else offset_chunk_end.
  std::optional<replication::Row> chunk_end(const std::optional<replication::Row>& after,
                                            std::uint64_t rows);
  // CopySource::copy_range: the rows copied. Throws Error when the copy would change a value
  // (the ALTER narrows or converts a column so that it does not fit).
  std::uint64_t copy_range(const std::optional<replication::Row>& after,
                           const replication::Row& up_to);
  // RebuildBackend::recopy: the range's shadow rows deleted and copied again, in one
  // transaction.
  void recopy(const Mismatch& range);

 private:
  std::optional<replication::Row> find_chunk_end(const std::optional<replication::Row>& after,
                                                 std::uint64_t rows);
  // Fails when the last copy statement converted a value (IGNORE turns that into a warning).
  void check_copy_warnings();

  MysqlSessions& sessions_;
  const MysqlTablePlan& plan_;
};

// The key about `rows` keys after `after` in `source` as `session` sees it (its snapshot, for
// verification), found by walking the key's index; the last key when fewer are left; nullopt
// when none is.
std::optional<replication::Row> offset_chunk_end(Session& session, const TableSchema& source,
                                                 const std::optional<replication::Row>& after,
                                                 std::uint64_t rows);

}  // namespace sluice::mysql

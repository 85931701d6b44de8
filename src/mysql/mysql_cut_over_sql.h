#pragma once

#include <string>
#include <vector>

#include "ddl/identifier.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/session.h"

namespace sluice::mysql {

// The SQL text of the two-session sentry cut-over (MysqlCutOver): pure, no connection, unit
// tested in tests/mysql_cut_over_sql_test.cpp.

// CREATE TABLE of the sentry under the swap's name, carrying kSentryComment (mysql_shadow_sql.h)
// so cleanup and resume recognise it.
std::string create_sentry_sql(const ddl::QualifiedName& swap);

// The locks session A takes: the table and the sentry, both WRITE, in one LOCK TABLES.
std::vector<TableLockRequest> cut_over_locks(const MysqlTablePlan& plan);

// Session B's swap: RENAME TABLE <table> TO <swap>, <shadow> TO <table>. It fails while the
// sentry holds <swap>, so it swaps only once session A dropped the sentry.
std::string swap_rename_sql(const MysqlTablePlan& plan);

// A row while session `session_id` waits for a table's metadata lock: the RENAME is queued.
std::string rename_queued_sql(unsigned long session_id);

}  // namespace sluice::mysql

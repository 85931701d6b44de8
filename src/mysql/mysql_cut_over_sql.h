#pragma once

#include <cstdint>
#include <optional>
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

// The locks session A takes: the table, the sentry and the shadow, all WRITE, in one LOCK
// TABLES. The shadow, because the drain under the lock re-reads changed keys from the table
// into it on session A itself (MysqlSessions::LockedApply), the only session that may read the
// table then.
std::vector<TableLockRequest> cut_over_locks(const MysqlTablePlan& plan);

// `show_create` (the second column of SHOW CREATE TABLE) without the table option
// AUTO_INCREMENT=n, which every insert may move: two results differ exactly when DDL changed
// the table in between.
std::string comparable_definition(const std::string& show_create);

// Session B's swap: RENAME TABLE <table> TO <swap>, <shadow> TO <table>. It fails while the
// sentry holds <swap>, so it swaps only once session A dropped the sentry.
std::string swap_rename_sql(const MysqlTablePlan& plan);

// A row while session `session_id` waits for a table's metadata lock: the RENAME is queued.
std::string rename_queued_sql(unsigned long session_id);

// The reader guard (MysqlCutOver::lock_tables; docs/alter.md, step 7): the sessions that hold
// only a read-level metadata lock on a table are inside a transaction that read it and has not
// written it yet. Should one write while the cut-over's LOCK TABLES is queued, the server sees a
// metadata-lock deadlock and rolls the application's transaction back (1213), so the cut-over
// queues its lock only when there is none.

// One row when information_schema.METADATA_LOCK_INFO (the metadata_lock_info plugin) is
// installed.
std::string metadata_lock_view_sql();

// Fails (1227) without the PROCESS privilege. METADATA_LOCK_INFO needs it too but is merely empty
// without it, which would look like a table nobody reads.
std::string process_privilege_probe_sql();

// The ids of the sessions whose every metadata lock on the table is read-level (MDL_SHARED,
// MDL_SHARED_HIGH_PRIO, MDL_SHARED_READ). Sessions that hold MDL_SHARED_WRITE have written
// already and need no further lock to finish. The arguments are string literals quoted by the
// session (Session::quote_literal).
std::string readers_before_write_sql(const std::string& schema_literal,
                                     const std::string& name_literal);

// The server's error when guarded_lock_sql finds a reader: SIGNAL SQLSTATE '45000' is 1644.
constexpr unsigned kReaderPresentCode = 1644;

// `lock_literal` (a LOCK TABLES statement as a string literal quoted by the session) run only if
// `readers_sql` (readers_before_write_sql) finds no row, in one compound statement: the server
// looks and queues the lock within microseconds, where a look from the client and a LOCK sent
// after it leave a round trip for a reader to slip in between. Fails with kReaderPresentCode,
// queueing nothing, when there is a reader. MariaDB only (BEGIN NOT ATOMIC, EXECUTE IMMEDIATE),
// as is the metadata_lock_info plugin the guard needs.
std::string guarded_lock_sql(const std::string& lock_literal, const std::string& readers_sql);

// Cancels the statement session `session_id` runs (a queued LOCK TABLES); the session stays.
std::string kill_query_sql(unsigned long session_id);

// SHOW BINLOG EVENTS of binlog `file_literal` (a string literal quoted by the session) from
// `offset` (from its start when 0), `count` events after the first `skip`: where the cut-over
// looks for its own RENAME, whose end is where a revert's change stream starts.
std::string binlog_events_sql(const std::string& file_literal, std::uint64_t offset,
                              std::uint64_t skip, std::uint64_t count);

// One row of SHOW BINLOG EVENTS (Log_name, Pos, Event_type, Server_id, End_log_pos, Info): the
// end of the event when it is the QUERY event of `statement` (Info may put `use db; ` first).
// The cut-over's RENAME names its helper tables, so no other statement contains its text.
std::optional<std::uint64_t> end_of_statement(const std::vector<std::optional<std::string>>& event,
                                              const std::string& statement);

// The same row's GTID when it is a Gtid event (Info "GTID 0-1-9" or "BEGIN GTID 0-1-9"), which
// names the transaction of the events after it.
std::optional<std::string> gtid_of_event(const std::vector<std::optional<std::string>>& event);

}  // namespace sluice::mysql

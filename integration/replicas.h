#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "integration/sql_session.h"

namespace sluice::test {

// What the replica tests check on a primary and its replica (integration/replica_*_test.cpp).
// Each waits with a generous deadline and never asserts how fast anything happened.

// Waits until the replica has applied everything the primary has written so far: MariaDB
// MASTER_GTID_WAIT on the primary's @@gtid_binlog_pos, PostgreSQL until the standby's replay
// LSN passes the primary's current WAL LSN. Fails the test when it does not within minutes.
void wait_for_replica(const std::string& primary_dsn, const std::string& replica_dsn);

// Why replication is not healthy, or "" when it is: MariaDB SHOW SLAVE STATUS with both
// threads running and no IO or SQL error; PostgreSQL the standby `dbs_standby` streaming in
// the primary's pg_stat_replication and in recovery with replay not paused.
std::string replication_problem(const std::string& primary_dsn, const std::string& replica_dsn);

// The user tables of the server's database (MariaDB: every schema but the system ones;
// PostgreSQL: every schema but pg_catalog and information_schema), schema-qualified, sorted.
std::vector<std::string> user_tables(SqlSession& db);

// After wait_for_replica: both sides hold the same tables, each equal row for row (every
// column as text, in the order of the first column), and replication is healthy.
void check_replica_equals_primary(const std::string& primary_dsn, const std::string& replica_dsn);

// Replication slots, publications (PostgreSQL) or tables whose name marks a sluice helper (a
// shadow or a swapped-out table) left on the server; empty when there are none.
std::string leftovers(SqlSession& db);

// The JSON status events sluice printed so far in `state` (one JSON object per line of `out`).
std::vector<nlohmann::json> status_events(const std::string& out, const std::string& state);

}  // namespace sluice::test

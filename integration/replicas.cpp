#include "integration/replicas.h"

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <thread>

#include "integration/row_diff.h"
#include "src/dsn.h"
#include "src/mysql/mysql_connection.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kCatchUpLimit = 300s;

bool is_postgres(const std::string& dsn) {
  return parse_dsn(dsn).kind == ServerKind::postgres;
}

// SHOW SLAVE STATUS by column name (the positions differ between versions); empty when the
// server is not a replica.
std::map<std::string, std::string> slave_status(const std::string& replica_dsn) {
  mysql::Connection replica(parse_dsn(replica_dsn), std::nullopt);
  MYSQL* handle = replica.handle();
  REQUIRE(mysql_query(handle, "SHOW SLAVE STATUS") == 0);
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> result(mysql_store_result(handle),
                                                                  mysql_free_result);
  std::map<std::string, std::string> status;
  MYSQL_ROW row = result ? mysql_fetch_row(result.get()) : nullptr;
  if (!row) {
    return status;
  }
  const MYSQL_FIELD* fields = mysql_fetch_fields(result.get());
  for (unsigned i = 0; i < mysql_num_fields(result.get()); ++i) {
    status[fields[i].name] = row[i] ? row[i] : "";
  }
  return status;
}

}  // namespace

void wait_for_replica(const std::string& primary_dsn, const std::string& replica_dsn) {
  const auto primary = open_session(parse_dsn(primary_dsn));
  const auto replica = open_session(parse_dsn(replica_dsn));
  if (!is_postgres(primary_dsn)) {
    const std::string position = primary->value("SELECT @@global.gtid_binlog_pos");
    // 0 once applied, -1 on timeout.
    REQUIRE_MESSAGE(replica->value("SELECT MASTER_GTID_WAIT(" + replica->literal(position) + ", " +
                                   std::to_string(kCatchUpLimit.count()) + ")") == "0",
                    "the replica did not apply " << position << ": "
                                                 << replication_problem(primary_dsn, replica_dsn));
    return;
  }
  const std::string lsn = primary->value("SELECT pg_current_wal_lsn()");
  const auto deadline = std::chrono::steady_clock::now() + kCatchUpLimit;
  while (replica->value("SELECT pg_last_wal_replay_lsn() >= " + replica->literal(lsn) +
                        "::pg_lsn") != "t") {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                    "the standby did not replay up to "
                        << lsn << ": " << replication_problem(primary_dsn, replica_dsn));
    std::this_thread::sleep_for(50ms);
  }
}

std::string replication_problem(const std::string& primary_dsn, const std::string& replica_dsn) {
  const auto primary = open_session(parse_dsn(primary_dsn));
  const auto replica = open_session(parse_dsn(replica_dsn));
  if (!is_postgres(primary_dsn)) {
    const std::map<std::string, std::string> status = slave_status(replica_dsn);
    if (status.empty()) {
      return "SHOW SLAVE STATUS is empty";
    }
    std::string problem;
    for (const char* running : {"Slave_IO_Running", "Slave_SQL_Running"}) {
      if (status.at(running) != "Yes") {
        problem += std::string(running) + ": " + status.at(running) + "; ";
      }
    }
    for (const char* error : {"Last_IO_Error", "Last_SQL_Error"}) {
      if (!status.at(error).empty()) {
        problem += std::string(error) + ": " + status.at(error) + "; ";
      }
    }
    return problem;
  }
  const std::string streaming = primary->value(
      "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'dbs_standby' AND "
      "state = 'streaming'");
  if (streaming != "1") {
    return "the standby dbs_standby is not streaming (pg_stat_replication)";
  }
  if (replica->value("SELECT pg_is_in_recovery() AND NOT pg_is_wal_replay_paused()") != "t") {
    return "the standby is not in recovery, or its replay is paused";
  }
  return "";
}

std::vector<std::string> user_tables(SqlSession& db) {
  const Rows rows = db.query(
      "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
      "('mysql', 'information_schema', 'performance_schema', 'sys', 'pg_catalog') ORDER BY 1, 2");
  std::vector<std::string> tables;
  for (const auto& row : rows) {
    tables.push_back(row[0].value_or("") + "." + row[1].value_or(""));
  }
  return tables;
}

void check_replica_equals_primary(const std::string& primary_dsn, const std::string& replica_dsn) {
  const auto primary = open_session(parse_dsn(primary_dsn));
  const auto replica = open_session(parse_dsn(replica_dsn));
  const std::vector<std::string> tables = user_tables(*primary);
  CHECK(user_tables(*replica) == tables);
  for (const std::string& qualified : tables) {
    const std::size_t dot = qualified.find('.');
    const std::string table =
        primary->quote(qualified.substr(0, dot)) + "." + primary->quote(qualified.substr(dot + 1));
    // Every column in the order: a first column that is not unique still sorts alike on both.
    const int columns = std::stoi(
        primary->value("SELECT count(*) FROM information_schema.columns WHERE table_schema = " +
                       primary->literal(qualified.substr(0, dot)) +
                       " AND table_name = " + primary->literal(qualified.substr(dot + 1))));
    std::string order;
    for (int i = 1; i <= columns; ++i) {
      order += (i == 1 ? " ORDER BY " : ", ") + std::to_string(i);
    }
    const std::string select = "SELECT * FROM " + table + order;
    const Rows expected = primary->query(select);
    const Rows actual = replica->query(select);
    INFO("table " << qualified);
    CHECK(actual.size() == expected.size());
    CHECK_MESSAGE(actual == expected, first_difference(actual, expected));
  }
  CHECK(replication_problem(primary_dsn, replica_dsn) == "");
}

std::string leftovers(SqlSession& db) {
  std::string found;
  for (const std::string& table : user_tables(db)) {
    const std::string name = table.substr(table.find('.') + 1);
    // Shadows end in _sluice_new (MariaDB) or _new, swapped-out tables are _<table>_old.
    if (name.find("_sluice_new") != std::string::npos ||
        name.find("_sluice_old") != std::string::npos ||
        (name.front() == '_' && (name.ends_with("_old") || name.ends_with("_new")))) {
      found += table + " ";
    }
  }
  if (db.value("SELECT version()").find("PostgreSQL") != std::string::npos) {
    for (const auto& row : db.query("SELECT 'slot ' || slot_name FROM pg_replication_slots UNION "
                                    "ALL SELECT 'publication ' || pubname FROM pg_publication")) {
      found += row[0].value_or("") + " ";
    }
  }
  return found;
}

std::vector<nlohmann::json> status_events(const std::string& out, const std::string& state) {
  std::vector<nlohmann::json> found;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.front() == '{') {
      const nlohmann::json event = nlohmann::json::parse(line);
      if (event.value("event", "") == "status" && event.value("state", "") == state) {
        found.push_back(event);
      }
    }
  }
  return found;
}

}  // namespace sluice::test

#include "src/mysql/mysql_load_probe.h"

#include <algorithm>
#include <charconv>

#include "src/error.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

double to_number(const std::optional<std::string>& text, const std::string& what) {
  if (!text) {
    return 0;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size()) {
    throw Error(ExitCode::usage, what + " returned '" + *text + "', which is not a number");
  }
  return value;
}

// The first replication channel's SHOW SLAVE STATUS, by column name (MySQL 8.0.22+ also spells
// it SHOW REPLICA STATUS with "Source" for "Master" and "Replica" for "Slave"); no row when the
// server is not a replica.
std::optional<std::map<std::string, std::string>> slave_status(Connection& connection) {
  MYSQL* mysql = connection.handle();
  if (mysql_query(mysql, "SHOW SLAVE STATUS") != 0) {
    throw Error(ExitCode::failure, std::string("SHOW SLAVE STATUS failed: ") + mysql_error(mysql));
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> result(mysql_store_result(mysql),
                                                                  mysql_free_result);
  if (!result) {
    return std::nullopt;
  }
  const unsigned columns = mysql_num_fields(result.get());
  const MYSQL_FIELD* fields = mysql_fetch_fields(result.get());
  MYSQL_ROW row = mysql_fetch_row(result.get());
  if (!row) {
    return std::nullopt;
  }
  std::map<std::string, std::string> status;
  for (unsigned i = 0; i < columns; ++i) {
    if (row[i]) {
      status[fields[i].name] = row[i];
    }
  }
  return status;
}

std::string column(const std::map<std::string, std::string>& status, const std::string& master,
                   const std::string& source) {
  const auto found = status.find(master);
  if (found != status.end()) {
    return found->second;
  }
  const auto other = status.find(source);
  return other == status.end() ? "" : other->second;
}

// What stops a replica from replicating, as "is not replicating (…)"; empty when both threads
// run and no error is recorded.
std::string replication_problem(const std::map<std::string, std::string>& status) {
  std::string problems;
  const auto add = [&problems](const std::string& problem) {
    problems += (problems.empty() ? "" : "; ") + problem;
  };
  const std::string io = column(status, "Slave_IO_Running", "Replica_IO_Running");
  const std::string sql = column(status, "Slave_SQL_Running", "Replica_SQL_Running");
  if (io != "Yes") {
    add("Slave_IO_Running: " + (io.empty() ? std::string("unknown") : io));
  }
  if (sql != "Yes") {
    add("Slave_SQL_Running: " + (sql.empty() ? std::string("unknown") : sql));
  }
  for (const char* error : {"Last_IO_Error", "Last_SQL_Error"}) {
    const auto found = status.find(error);
    if (found != status.end() && !found->second.empty()) {
      add(std::string(error) + ": " + found->second);
    }
  }
  return problems.empty() ? "" : "is not replicating (" + problems + ")";
}

}  // namespace

MysqlLoadProbe::MysqlLoadProbe(const Dsn& dsn, const std::optional<std::string>& password,
                               const std::vector<std::string>& replicas)
    : dsn_(dsn), password_(password) {
  primary();
  for (const std::string& replica : replicas) {
    replicas_.push_back({parse_dsn(replica), nullptr});
  }
}

Connection& MysqlLoadProbe::primary() {
  if (!primary_) {
    primary_ = std::make_unique<Connection>(dsn_, password_);
  }
  return *primary_;
}

std::map<std::string, double> MysqlLoadProbe::load(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    list += (list.empty() ? "" : ", ") + primary().quote_literal(name);
  }
  std::map<std::string, double> by_lower_name;
  try {
    for (const ResultRow& row :
         primary().query("SHOW GLOBAL STATUS WHERE Variable_name IN (" + list + ")")) {
      by_lower_name[ascii_lower(row.at(0).value_or(""))] =
          to_number(row.at(1), "SHOW GLOBAL STATUS");
    }
  } catch (const Error&) {
    primary_.reset();
    throw;
  }
  std::map<std::string, double> values;
  for (const std::string& name : names) {
    const auto found = by_lower_name.find(ascii_lower(name));
    if (found == by_lower_name.end()) {
      throw Error(ExitCode::usage, "the server reports no status variable '" + name +
                                       "' (see SHOW GLOBAL STATUS); fix --max-load or "
                                       "--critical-load");
    }
    values[name] = found->second;
  }
  return values;
}

std::vector<ReplicaLag> MysqlLoadProbe::replica_lag() {
  // The primary's position first: a replica read afterwards that has reached it is not behind.
  const auto now = GtidLagClock::Clock::now();
  std::optional<std::string> primary_gtid;
  try {
    primary_gtid = primary().query_value("SELECT @@global.gtid_binlog_pos");
  } catch (const ServerError&) {
    // MySQL has no MariaDB GTID variables: its replicas report Seconds_Behind_Master only.
  } catch (const Error&) {
    primary_.reset();
    throw;
  }
  if (primary_gtid) {
    gtid_clock_.sample(now, parse_gtid_position(*primary_gtid));
  }
  std::vector<ReplicaLag> lags;
  std::vector<GtidPosition> positions;
  for (Replica& replica : replicas_) {
    ReplicaLag lag{replica.dsn.display(), std::nullopt, ""};
    try {
      if (!replica.connection) {
        replica.connection = std::make_unique<Connection>(replica.dsn, password_);
      }
      const auto status = slave_status(*replica.connection);
      if (!status) {
        lag.problem = "is not replicating (SHOW SLAVE STATUS is empty: not a replica)";
      } else {
        lag.problem = replication_problem(*status);
        const std::string behind =
            column(*status, "Seconds_Behind_Master", "Seconds_Behind_Source");
        if (!behind.empty()) {
          lag.lag = std::chrono::seconds(std::stoll(behind));
        }
        if (primary_gtid) {
          // Applied transactions, recorded by the SQL thread whether or not it connects by GTID.
          const GtidPosition applied = parse_gtid_position(
              replica.connection->query_value("SELECT @@global.gtid_slave_pos").value_or(""));
          positions.push_back(applied);
          lag.lag = std::max(lag.lag.value_or(std::chrono::milliseconds(0)),
                             gtid_clock_.lag(applied, now));
        }
      }
    } catch (const std::exception& error) {
      // An unreachable replica cannot be shown to keep up: it throttles, and is retried.
      lag.lag.reset();
      lag.problem = std::string("cannot be read: ") + error.what();
      replica.connection.reset();
    }
    lags.push_back(std::move(lag));
  }
  if (positions.size() == replicas_.size()) {
    gtid_clock_.forget_reached(positions);
  }
  return lags;
}

double MysqlLoadProbe::throttle_query(const std::string& sql) {
  try {
    return to_number(primary().query_value(sql), "--throttle-query");
  } catch (const Error&) {
    // A lost session (ConnectionLost) is no ServerError: dropping it on any error is what makes
    // the next probe reconnect.
    primary_.reset();
    throw;
  }
}

}  // namespace sluice::mysql

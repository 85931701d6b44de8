#include "src/mysql/mysql_load_probe.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "src/error.h"

namespace sluice::mysql {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

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

// Seconds_Behind_Master of the first replication channel, found by column name (MySQL 8.0.22+
// also calls it Seconds_Behind_Source). nullopt when the server is not replicating.
std::optional<std::chrono::milliseconds> seconds_behind(Connection& connection) {
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
  for (unsigned i = 0; i < columns; ++i) {
    const std::string name = fields[i].name;
    if (name == "Seconds_Behind_Master" || name == "Seconds_Behind_Source") {
      if (!row[i]) {
        return std::nullopt;
      }
      return std::chrono::seconds(std::stoll(row[i]));
    }
  }
  return std::nullopt;
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
      by_lower_name[lower(row.at(0).value_or(""))] = to_number(row.at(1), "SHOW GLOBAL STATUS");
    }
  } catch (const Error&) {
    primary_.reset();
    throw;
  }
  std::map<std::string, double> values;
  for (const std::string& name : names) {
    const auto found = by_lower_name.find(lower(name));
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
  std::vector<ReplicaLag> lags;
  for (Replica& replica : replicas_) {
    ReplicaLag lag{replica.dsn.display(), std::nullopt};
    try {
      if (!replica.connection) {
        replica.connection = std::make_unique<Connection>(replica.dsn, password_);
      }
      lag.lag = seconds_behind(*replica.connection);
    } catch (const Error&) {
      // An unreachable replica cannot be shown to keep up: it throttles, and is retried.
      replica.connection.reset();
    }
    lags.push_back(std::move(lag));
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

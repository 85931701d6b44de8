#include "src/postgres/pg_load_probe.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "src/error.h"

namespace sluice::postgres {
namespace {

constexpr const char* kMetricsQuery =
    "SELECT count(*) FILTER (WHERE state = 'active'), count(*), "
    "count(*) FILTER (WHERE state LIKE 'idle in transaction%'), "
    "count(*) FILTER (WHERE wait_event_type = 'Lock') "
    "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
constexpr const char* kMetricNames[] = {"active_backends", "backends", "idle_in_transaction",
                                        "lock_waiting"};

double to_number(const std::optional<std::string>& text, const std::string& what) {
  if (!text) {
    return 0;
  }
  // PostgreSQL prints booleans as t/f: a throttle query may well return one.
  if (*text == "t" || *text == "f") {
    return *text == "t" ? 1 : 0;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size()) {
    throw Error(ExitCode::usage, what + " returned '" + *text + "', which is not a number");
  }
  return value;
}

// Runs `step` on the session, dropping the session when it fails so the next probe reconnects.
template <typename Step>
auto reopening(std::unique_ptr<Connection>& session, Step step) {
  try {
    return step();
  } catch (const Error&) {
    session.reset();
    throw;
  }
}

}  // namespace

PgLoadProbe::PgLoadProbe(const Dsn& dsn, const std::optional<std::string>& password,
                         std::vector<std::string> standbys)
    : dsn_(dsn), password_(password), standbys_(std::move(standbys)) {
  session();
}

Connection& PgLoadProbe::session() {
  if (!session_) {
    session_ = std::make_unique<Connection>(dsn_, password_);
  }
  return *session_;
}

std::map<std::string, double> PgLoadProbe::load(const std::vector<std::string>& names) {
  const std::set<std::string> known(std::begin(kMetricNames), std::end(kMetricNames));
  for (const std::string& name : names) {
    if (!known.contains(name)) {
      throw Error(ExitCode::usage, "PostgreSQL has no load metric '" + name +
                                       "'; use active_backends, backends, idle_in_transaction "
                                       "or lock_waiting in --max-load and --critical-load");
    }
  }
  const std::vector<ResultRow> rows =
      reopening(session_, [&] { return session().query(kMetricsQuery); });
  std::map<std::string, double> all;
  for (std::size_t i = 0; i < std::size(kMetricNames); ++i) {
    all[kMetricNames[i]] = to_number(rows.at(0).at(i), "pg_stat_activity");
  }
  std::map<std::string, double> values;
  for (const std::string& name : names) {
    values[name] = all.at(name);
  }
  return values;
}

std::vector<ReplicaLag> PgLoadProbe::replica_lag() {
  // replay_lag keeps growing while a standby's replay is paused and WAL still flows; NULL means
  // the standby has caught up and been idle a while.
  const std::vector<ResultRow> rows = reopening(session_, [&] {
    return session().query(
        "SELECT application_name, COALESCE(EXTRACT(EPOCH FROM replay_lag) * 1000, 0)::bigint, "
        "state FROM pg_stat_replication ORDER BY application_name");
  });
  std::vector<ReplicaLag> lags;
  std::set<std::string> seen;
  for (const ResultRow& row : rows) {
    const std::string name = row.at(0).value_or("");
    if (standbys_.empty() ||
        std::find(standbys_.begin(), standbys_.end(), name) != standbys_.end()) {
      const std::string state = row.at(2).value_or("");
      lags.push_back({name, std::chrono::milliseconds(std::stoll(row.at(1).value_or("0"))),
                      state == "streaming" ? "" : "is not streaming (state " + state + ")"});
      seen.insert(name);
    }
  }
  for (const std::string& standby : standbys_) {
    if (!seen.contains(standby)) {
      lags.push_back({standby, std::nullopt,
                      "is not replicating (not connected: absent from pg_stat_replication)"});
    }
  }
  if (standbys_.empty() && lags.empty()) {
    // Fails closed: a standby that dropped out must not let the copy run unwatched.
    lags.push_back({"(any standby)", std::nullopt,
                    "is not replicating: no standby is connected (pg_stat_replication is "
                    "empty); name the standbys in --throttle-control-replicas or drop "
                    "--max-lag-millis"});
  }
  return lags;
}

double PgLoadProbe::throttle_query(const std::string& sql) {
  return to_number(reopening(session_, [&] { return session().query_value(sql); }),
                   "--throttle-query");
}

}  // namespace sluice::postgres

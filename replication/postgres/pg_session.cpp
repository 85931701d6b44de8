#include "replication/postgres/pg_session.h"

#include <memory>

#include "replication/stream_error.h"

namespace sluice::replication::postgres {

std::string first_line(const char* message) {
  std::string text = message ? message : "";
  const std::size_t newline = text.find('\n');
  if (newline != std::string::npos) {
    text.resize(newline);
  }
  return text;
}

Session::Session(const ConnectionParams& params, Mode mode) {
  // libpq applies keywords in order, so the ones after `dbname` override whatever the user's
  // conninfo says about them.
  std::vector<const char*> keywords = {"dbname", "application_name", "connect_timeout", "options"};
  std::vector<const char*> values = {
      params.conninfo.c_str(), "sluice", "10",
      "-c DateStyle=ISO -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex "
      "-c IntervalStyle=postgres"};
  if (mode == Mode::replication) {
    keywords.push_back("replication");
    values.push_back("database");
  }
  if (params.password) {
    keywords.push_back("password");
    values.push_back(params.password->c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> closer(conn_, &PQfinish);
    conn_ = nullptr;
    throw StreamError(std::string("cannot open a PostgreSQL ") +
                      (mode == Mode::replication ? "replication " : "") +
                      "connection: " + first_line(PQerrorMessage(closer.get())));
  }
}

Session::~Session() {
  if (conn_) {
    PQfinish(conn_);
  }
}

std::vector<SessionRow> Session::query(const std::string& sql,
                                       const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) {
    values.push_back(param.c_str());
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      params.empty() ? PQexec(conn_, sql.c_str())
                     : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0),
      &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    last_sqlstate_ = sqlstate ? sqlstate : "";
    const std::string message = result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_);
    throw StreamError("PostgreSQL refused `" + sql + "`: " + first_line(message.c_str()));
  }
  last_sqlstate_.clear();
  std::vector<SessionRow> rows;
  const int row_count = PQntuples(result.get());
  const int column_count = PQnfields(result.get());
  rows.reserve(static_cast<std::size_t>(row_count));
  for (int r = 0; r < row_count; ++r) {
    SessionRow row;
    row.reserve(static_cast<std::size_t>(column_count));
    for (int c = 0; c < column_count; ++c) {
      if (PQgetisnull(result.get(), r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(result.get(), r, c),
                                     static_cast<std::size_t>(PQgetlength(result.get(), r, c))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace sluice::replication::postgres

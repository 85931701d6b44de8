#pragma once

#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

namespace sluice::replication::postgres {

// Where to connect. `conninfo` is a libpq URL or key=value string exactly as the user gave it
// (it never carries the password); `password` is passed to libpq separately so that it never
// appears in a message or log line.
struct ConnectionParams {
  std::string conninfo;
  std::optional<std::string> password;
};

using SessionRow = std::vector<std::optional<std::string>>;

// One libpq session, closed on destruction. A replication session (`replication=database`)
// speaks the walsender protocol: replication commands and simple queries only.
//
// Every session runs with DateStyle ISO, TimeZone UTC, extra_float_digits 3 and bytea_output
// hex, because pgoutput prints values with the walsender's settings and the decoder relies on
// that text being exact and unambiguous.
class Session {
 public:
  enum class Mode { sql, replication };

  // Connects or throws StreamError naming the server and libpq's reason (never the password).
  Session(const ConnectionParams& params, Mode mode);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one statement (with text parameters $1, $2, ... on SQL sessions; replication sessions
  // take none) and returns its rows. Throws StreamError with the server's message.
  std::vector<SessionRow> query(const std::string& sql,
                                const std::vector<std::string>& params = {});

  // The server's SQLSTATE of the last failed query ("" when none), for callers that retry
  // some failures (a slot still held by an exiting walsender) and not others.
  const std::string& last_sqlstate() const { return last_sqlstate_; }

  PGconn* handle() { return conn_; }

 private:
  PGconn* conn_ = nullptr;
  std::string last_sqlstate_;
};

// The first line of a libpq message, without the trailing newline.
std::string first_line(const char* message);

}  // namespace sluice::replication::postgres

#pragma once

#include <string>

namespace sluice {

// Whether the TCP server at host:port is a PostgreSQL server: it says nothing on its own
// (a MySQL or MariaDB server greets at once) and answers PostgreSQL's SSLRequest with one byte.
// Asked before a MySQL client connects, so that a mysql:// DSN pointed at a PostgreSQL port
// fails in about a second instead of waiting out the connect timeout for a greeting that never
// comes. Sends nothing to a server that greets first. False when unsure (no answer, a refused
// or slow connection): the real connect then reports what is wrong.
bool answers_like_postgres(const std::string& host, unsigned port);

}  // namespace sluice

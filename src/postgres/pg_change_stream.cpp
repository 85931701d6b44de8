#include "src/postgres/pg_change_stream.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "replication/postgres/pgoutput_client.h"
#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"
#include "src/error.h"
#include "src/postgres/pg_connection.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;

// Owns the server-side objects and the client; members are destroyed in reverse order, so the
// client disconnects before the slot is dropped, and the slot goes before the publication.
class PostgresChangeStream : public replication::ChangeStream {
 public:
  PostgresChangeStream(const pg::ConnectionParams& params, const std::string& name,
                       const ddl::QualifiedName& table)
      : publication_(params, name, {table}),
        slot_(params, name, /*export_snapshot=*/false),
        stream_(params,
                pg::StreamOptions{
                    .slot = slot_.name(), .publication = publication_.name(), .start_lsn = 0}) {}

  std::optional<replication::Transaction> next(std::chrono::milliseconds timeout) override {
    try {
      return stream_.next(timeout);
    } catch (const replication::StreamError& error) {
      throw Error(ExitCode::stream, error.what());
    }
  }

  void confirm(const replication::Position& position) override {
    try {
      stream_.confirm(position);
    } catch (const replication::StreamError& error) {
      throw Error(ExitCode::stream, error.what());
    }
  }

 private:
  pg::Publication publication_;
  pg::ReplicationSlot slot_;
  pg::PgOutputStream stream_;
};

std::string stream_name() {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  return "stream_" + std::to_string(getpid()) + "_" + std::to_string(seconds);
}

}  // namespace

std::unique_ptr<replication::ChangeStream> open_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const ddl::QualifiedName& table,
    const std::string& name) {
  {
    Connection connection(dsn, password);
    const std::optional<std::string> exists = connection.query_value(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {table.schema, table.name});
    if (!exists) {
      throw Error(ExitCode::not_found, "table " + table.schema + "." + table.name +
                                           " does not exist in " + dsn.display());
    }
  }
  const pg::ConnectionParams params{dsn.pg_conninfo, password};
  try {
    // Only for its warnings about forgotten slots that hold WAL.
    pg::list_sluice_slots(params);
  } catch (const replication::StreamError& error) {
    spdlog::debug("could not list sluice's replication slots: {}", error.what());
  }
  try {
    return std::make_unique<PostgresChangeStream>(params, name.empty() ? stream_name() : name,
                                                  table);
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::preflight_failed, std::string("cannot stream ") + table.schema + "." +
                                                table.name + ": " + error.what());
  }
}

}  // namespace sluice::postgres

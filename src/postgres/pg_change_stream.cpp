#include "src/postgres/pg_change_stream.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "replication/postgres/pgoutput_client.h"
#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"
#include "src/error.h"
#include "src/postgres/pg_connection.h"
#include "src/stream_errors.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;

// Owns the server-side objects and the client; members are destroyed in reverse order, so the
// client disconnects before the slot is dropped, and the slot goes before the publication.
class PgChangeStream : public replication::ChangeStream {
 public:
  PgChangeStream(const pg::ConnectionParams& params, const std::string& name,
                 const ddl::QualifiedName& table, std::chrono::milliseconds reconnect_timeout)
      : publication_(params, name, {table}),
        slot_(params, name, /*export_snapshot=*/false),
        stream_(params, pg::StreamOptions{.slot = slot_.name(),
                                          .publication = publication_.name(),
                                          .start_lsn = 0,
                                          .reconnect_timeout = reconnect_timeout}) {}

  std::optional<replication::Transaction> next(std::chrono::milliseconds timeout) override {
    return translating_stream_errors([&] { return stream_.next(timeout); });
  }
  void confirm(const replication::Position& position) override {
    translating_stream_errors([&] { stream_.confirm(position); });
  }

  void keep_server_objects() override {
    slot_.release();
    publication_.release();
  }

 private:
  pg::Publication publication_;
  pg::ReplicationSlot slot_;
  pg::PgOutputStream stream_;
};

// A slot and publication an earlier run created, dropped when the stream ends unless kept.
class AdoptedObjects {
 public:
  AdoptedObjects(pg::ConnectionParams params, std::string name)
      : params_(std::move(params)), name_(std::move(name)) {}
  ~AdoptedObjects() {
    if (!owned_) {
      return;
    }
    try {
      pg::drop_slot(params_, name_);
      pg::drop_publication(params_, name_);
    } catch (const replication::StreamError& error) {
      spdlog::warn("could not drop {} ({}); run sluice cleanup", name_, error.what());
    }
  }
  AdoptedObjects(const AdoptedObjects&) = delete;
  AdoptedObjects& operator=(const AdoptedObjects&) = delete;
  const std::string& name() const { return name_; }
  void release() { owned_ = false; }

 private:
  pg::ConnectionParams params_;
  std::string name_;
  bool owned_ = true;
};

class ResumedChangeStream : public replication::ChangeStream {
 public:
  ResumedChangeStream(const pg::ConnectionParams& params, const std::string& full_name,
                      std::uint64_t start_lsn, std::chrono::milliseconds reconnect_timeout)
      : objects_(params, full_name),
        stream_(params, pg::StreamOptions{.slot = full_name,
                                          .publication = full_name,
                                          .start_lsn = start_lsn,
                                          .reconnect_timeout = reconnect_timeout,
                                          .decoding_memory_kb = kMigrationDecodingMemoryKb}) {}

  std::optional<replication::Transaction> next(std::chrono::milliseconds timeout) override {
    return translating_stream_errors([&] { return stream_.next(timeout); });
  }
  void confirm(const replication::Position& position) override {
    translating_stream_errors([&] { stream_.confirm(position); });
  }

  void keep_server_objects() override { objects_.release(); }

 private:
  AdoptedObjects objects_;
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
    const Dsn& dsn, const std::optional<std::string>& password, const ddl::QualifiedName& table) {
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
    return std::make_unique<PgChangeStream>(params, stream_name(), table, std::chrono::seconds(60));
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::preflight_failed, std::string("cannot stream ") + table.schema + "." +
                                                table.name + ": " + error.what());
  }
}

std::unique_ptr<replication::ChangeStream> adopt_postgres_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
    const std::string& name, std::uint64_t start_lsn, std::chrono::milliseconds reconnect_timeout) {
  const std::string full_name = pg::sluice_object_name(name);
  const std::string gone =
      "; the changes it kept for the migration can no longer be read, so the run cannot go "
      "on: run sluice cleanup --table " +
      table + " and start the migration over";
  {
    Connection connection(dsn, password);
    const std::vector<ResultRow> slot = connection.query(
        "SELECT wal_status, active::text FROM pg_replication_slots WHERE slot_name = $1",
        {full_name});
    if (slot.empty()) {
      throw Error(ExitCode::stream, "replication slot " + full_name + " is gone" + gone);
    }
    if (slot.front()[0].value_or("") == "lost") {
      throw Error(ExitCode::stream,
                  "replication slot " + full_name +
                      " was invalidated (it held more WAL than max_slot_wal_keep_size)" + gone);
    }
    if (!connection.query_value("SELECT 1 FROM pg_publication WHERE pubname = $1", {full_name})) {
      throw Error(ExitCode::stream, "publication " + full_name + " is gone" + gone);
    }
  }
  const pg::ConnectionParams params{dsn.pg_conninfo, password};
  try {
    return std::make_unique<ResumedChangeStream>(params, full_name, start_lsn, reconnect_timeout);
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::stream,
                "cannot read on from replication slot " + full_name + ": " + error.what());
  }
}

}  // namespace sluice::postgres

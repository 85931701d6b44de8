#include "src/postgres/pg_snapshot_copy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "replication/stream_error.h"
#include "src/postgres/pg_change_stream.h"
#include "src/postgres/pg_copy_sql.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/rebuild_backend.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;

// Rows per page to size the first chunk of a table never analysed: a narrow row's count.
constexpr double kDefaultRowsPerPage = 60;
// The SQLSTATEs of SET TRANSACTION SNAPSHOT for a snapshot that no longer exists: its file is
// gone (invalid snapshot identifier), or its exporting process is, while the server removes
// the file (could not import the requested snapshot; seen while the server shut down).
constexpr const char* kInvalidSnapshot = "22023";
constexpr const char* kSnapshotExporterGone = "55000";

}  // namespace

static_assert(kMaxChunkPages * 8192 * 4 <= kMigrationDecodingMemoryKb * 1024,
              "a chunk's rows must fit the walsender's decoding memory (pg_change_stream.h)");

std::uint64_t chunk_pages(std::uint64_t rows, double rows_per_page, std::uint64_t pages_left) {
  const auto wanted =
      static_cast<std::uint64_t>(std::ceil(static_cast<double>(rows) / rows_per_page));
  return std::clamp<std::uint64_t>(
      wanted, 1, std::max<std::uint64_t>(1, std::min(pages_left, kMaxChunkPages)));
}

PgSnapshotCopy::PgSnapshotCopy(const Dsn& dsn, const std::optional<std::string>& password,
                               const PgTablePlan& plan)
    : params_{dsn.pg_conninfo, password}, dsn_(dsn), password_(password), plan_(plan) {}

replication::Position PgSnapshotCopy::take_snapshot(Connection& session) {
  name_ = pg::sluice_object_name(slot_name(plan_.oid));
  drop_server_objects(session);
  try {
    publication_ = std::make_unique<pg::Publication>(params_, slot_name(plan_.oid),
                                                     std::vector<ddl::QualifiedName>{plan_.table});
    slot_ = std::make_unique<pg::ReplicationSlot>(params_, slot_name(plan_.oid),
                                                  /*export_snapshot=*/true);
  } catch (const replication::StreamError& error) {
    // A refusal, or the session lost: a lost main session tells which (ConnectionLost).
    session.execute("SELECT 1");
    throw Error(ExitCode::preflight_failed,
                "cannot create the change stream of " + plan_.quoted_table + ": " + error.what());
  }
  hold_snapshot(session);
  {
    Transaction view(session, begin_snapshot_transaction());
    import_snapshot(session);
    const ResultRow row = session.query(table_pages(), {plan_.quoted_table}).front();
    view.commit();
    pages_ = std::stoull(row[0].value_or("0"));
    file_node_ = row[1].value_or("");
    rows_per_page_ = std::stod(row[2].value_or("0"));
  }
  if (rows_per_page_ <= 0) {
    rows_per_page_ = kDefaultRowsPerPage;
  }
  next_page_ = 0;
  rows_copied_ = 0;
  redo_ = false;
  spdlog::info(
      "created replication slot {} and its snapshot at {}; copying the table's {} pages under "
      "it while the stream reads the slot (the snapshot holds back vacuum's horizon until the "
      "copy ends)",
      name_, pg::format_lsn(slot_->consistent_point()), pages_);
  return replication::Position{};
}

std::optional<std::uint64_t> PgSnapshotCopy::copy_chunk(Connection& session, std::uint64_t rows) {
  if (next_page_ >= pages_) {
    return std::nullopt;
  }
  const std::uint64_t end = next_page_ + chunk_pages(rows, rows_per_page_, pages_ - next_page_);
  // A redo skips the rows whose key the shadow has: the lost attempt may have committed them.
  const bool skip_copied = redo_;
  redo_ = true;
  std::uint64_t copied = 0;
  {
    Transaction chunk(session, begin_snapshot_transaction());
    import_snapshot(session);
    session.query_params(skip_copied ? copy_missing_rows(plan_, page_range())
                                     : copy_rows(plan_, page_range(), false),
                         {tid_of(next_page_), tid_of(end)}, &copied);
    // The scan held its lock until here: had the table been rewritten before it (VACUUM FULL,
    // CLUSTER), its rows would sit on other pages than the ranges copied so far.
    if (session.query_value(table_file_node(), {plan_.quoted_table}).value_or("") != file_node_) {
      // The code of the schema guard's stops (src/schema_guard.h): another session's DDL.
      throw Error(ExitCode::stream,
                  "another session truncated or rewrote " + plan_.quoted_table +
                      " during the copy (TRUNCATE, VACUUM FULL, CLUSTER or a table-rewriting "
                      "ALTER TABLE), which moves its rows to other pages; the original table is "
                      "untouched: run sluice alter again once that is done");
    }
    chunk.commit();
  }
  redo_ = false;
  next_page_ = end;
  rows_copied_ += copied;
  rows_per_page_ = std::max(1.0, static_cast<double>(rows_copied_) / static_cast<double>(end));
  return copied;
}

void PgSnapshotCopy::hold_snapshot(Connection& session) {
  holder_.reset();
  try {
    holder_ = std::make_unique<Connection>(dsn_, password_);
    holder_->execute(keep_idle_transaction());
    holder_->execute(begin_snapshot_transaction() + " READ ONLY");
    holder_->execute(set_transaction_snapshot(slot_->snapshot_name().value_or("")));
    snapshot_ = holder_->query_value(export_snapshot()).value_or("");
  } catch (const ServerError& error) {
    throw SnapshotLost(std::string("the copy's snapshot could not be held (") + error.what() + ")");
  }
  slot_->release_snapshot();
  // The stream adopts them; it drops them when it goes, or keeps them for a resumed run.
  slot_->release();
  publication_->release();
  // The ended replication session lets go of the slot as its server process exits.
  for (int wait = 0; wait < 500; ++wait) {
    if (!session.query_value(slot_in_use(), {name_})) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void PgSnapshotCopy::import_snapshot(Connection& session) {
  try {
    session.execute(set_transaction_snapshot(snapshot_));
  } catch (const ServerError& error) {
    if (error.code() != kInvalidSnapshot && error.code() != kSnapshotExporterGone) {
      throw;
    }
    throw SnapshotLost("the copy's snapshot is gone (the session that held it was lost)");
  }
}

void PgSnapshotCopy::release_snapshot() {
  holder_.reset();
  slot_.reset();
  publication_.reset();
}

void PgSnapshotCopy::discard(Connection& session) {
  holder_.reset();
  name_ = pg::sluice_object_name(slot_name(plan_.oid));
  drop_server_objects(session);
}

void PgSnapshotCopy::drop_server_objects(Connection& session) {
  // Dropped below by name, like a killed run's: a redo after a lost session finds them there.
  if (slot_) {
    slot_->release();
  }
  if (publication_) {
    publication_->release();
  }
  slot_.reset();
  publication_.reset();
  try {
    if (session.query_value("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {name_})) {
      pg::drop_slot(params_, name_);
    }
    if (session.query_value("SELECT 1 FROM pg_publication WHERE pubname = $1", {name_})) {
      pg::drop_publication(params_, name_);
    }
  } catch (const replication::StreamError& error) {
    // A refusal, or the sessions lost: a lost main session tells which (ConnectionLost).
    session.execute("SELECT 1");
    throw Error(ExitCode::failure, "could not drop " + name_ + " to start the copy over (" +
                                       error.what() + "); run sluice cleanup");
  }
}

}  // namespace sluice::postgres

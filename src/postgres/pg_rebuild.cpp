#include "src/postgres/pg_rebuild.h"

#include <spdlog/spdlog.h>

#include <system_error>

#include "ddl/ddl_error.h"
#include "replication/postgres/slot_manager.h"
#include "src/lock_retry.h"
#include "src/postgres/pg_change_stream.h"
#include "src/postgres/pg_copy.h"
#include "src/postgres/pg_cut_over.h"
#include "src/postgres/pg_dependents.h"
#include "src/postgres/pg_plan.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/postgres/pg_revert.h"
#include "src/postgres/pg_shadow_sql.h"
#include "src/postgres/pg_verify.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;
using replication::Position;
using replication::Row;
using std::chrono::milliseconds;

long long ms_since(std::chrono::steady_clock::time_point from,
                   std::chrono::steady_clock::time_point to = std::chrono::steady_clock::now()) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

}  // namespace

PgRebuild::PgRebuild(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn),
      password_(password),
      main_(open_session()),
      shadow_(dsn_, password_, plan_, table_),
      copy_(dsn_, password_, table_),
      applier_(table_) {}

void PgRebuild::reconnect() {
  main_ = open_session();
  if (apply_) {
    apply_ = open_session();
  }
  spdlog::info("reconnected to {}", dsn_.display());
}

template <typename Unit>
auto PgRebuild::reconnecting(const char* what, Unit unit) {
  return retry_on_connection_loss(
      what, options_.reconnect, [this] { reconnect(); }, unit);
}

std::unique_ptr<Connection> PgRebuild::open_session() {
  auto connection = std::make_unique<Connection>(dsn_, password_);
  // Bounded lock waits everywhere: sluice gives way to the application rather than queue it.
  // UTC so that time values print the same on every session.
  connection->execute("SET lock_timeout = '10s'; SET TimeZone = 'UTC'");
  return connection;
}

ddl::QualifiedName PgRebuild::resolve_table(const std::string& table) {
  try {
    return ddl::parse_qualified_name(ddl::Dialect::postgres, table, "public");
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
}

const RebuildPlan& PgRebuild::plan(const RebuildOptions& options) {
  options_ = options;
  plan_rebuild(*main_, options, resolve_table(options.table), plan_, table_);
  return plan_;
}

bool PgRebuild::apply_in_place(const RebuildOptions& options) {
  return postgres::apply_in_place(*main_, table_, options, plan_.analysis.clauses);
}

void PgRebuild::create_shadow() {
  shadow_.create(*main_);
  apply_ = open_session();
}

void PgRebuild::attach_shadow() {
  shadow_.attach(*main_);
  apply_ = open_session();
}

void PgRebuild::drop_shadow() {
  // A failing run ends the copy's snapshot and its lock on the table first.
  rewrite_lock_.reset();
  copy_.release_snapshot();
  shadow_.drop(*main_);
}

bool PgRebuild::complete_interrupted_swap(const std::string& table, const std::string& old_suffix) {
  return shadow_.complete_interrupted_swap(*main_, resolve_table(table), old_suffix);
}

std::vector<std::string> PgRebuild::cleanup(const std::string& table) {
  return shadow_.cleanup(*main_, resolve_table(table));
}

std::vector<std::string> PgRebuild::revert_losses(const std::string& table,
                                                  const std::string& old_table) {
  const ddl::QualifiedName name = resolve_table(table);
  return postgres::revert_losses(*main_, name, {name.schema, old_table});
}

std::vector<std::string> PgRebuild::swap_revert_losses() {
  return postgres::revert_losses(*main_, table_.shadow, table_.table);
}

bool PgRebuild::log_retained(const Checkpoint& revert_point) {
  return reverse_slot_retained(*main_, revert_point.reverse_slot);
}

void PgRebuild::adopt_old_table(const std::string& table, const std::string& old_table) {
  const ddl::QualifiedName name = resolve_table(table);
  postgres::adopt_old_table(*main_, name, {name.schema, old_table},
                            {name.schema, derived_name(name.name, "_new")});
}

bool PgRebuild::restore_old_table(const std::string& table, const std::string& old_table) {
  const ddl::QualifiedName name = resolve_table(table);
  return postgres::restore_old_table(*main_, name, {name.schema, old_table},
                                     {name.schema, derived_name(name.name, "_new")});
}

bool PgRebuild::end_revertibility(const Checkpoint& revert_point) {
  return !revert_point.reverse_slot.empty() &&
         drop_unused_slot(*main_, {dsn_.pg_conninfo, password_}, revert_point.reverse_slot);
}

void PgRebuild::drop_old_table() {
  main_->execute(drop_table(table_.quoted_old));
}

Position PgRebuild::log_position() {
  // A transactional logical message: its commit is flushed at once, so the change stream reads
  // past it promptly even on an idle server, and every transaction committed before this call
  // sits before the returned position.
  Position position;
  position.lsn = pg::parse_lsn(reconnecting("reading the WAL position", [&] {
    return main_->query_value("SELECT pg_logical_emit_message(true, 'sluice', 'position')::text")
        .value_or("");
  }));
  return position;
}

std::unique_ptr<replication::ChangeStream> PgRebuild::open_stream(const Position& start) {
  // The slot take_snapshot() made, or a killed run's: it kept every change after the position
  // it confirmed, which is never beyond the checkpoint `start` comes from. Opened right after
  // the slot during the copy, so a server lost then is waited for as during a chunk.
  // A revert reads the reverse slot the migration it undoes left (pg_revert.h).
  const std::string slot =
      table_.adopted_old ? revert_slot_name(table_.oid) : slot_name(table_.oid);
  hold_rewrite_lock();
  return reconnecting("opening the change stream", [&] {
    return adopt_postgres_stream(dsn_, password_, options_.table, slot, start.lsn,
                                 options_.reconnect.give_up_after);
  });
}

void PgRebuild::hold_rewrite_lock() {
  if (rewrite_lock_) {
    return;
  }
  try {
    rewrite_lock_ =
        std::make_unique<PgRewriteLock>(dsn_, password_, table_.quoted_table, table_.oid);
  } catch (const std::system_error& error) {
    spdlog::warn("the run goes on without its lock on {} ({})", table_.quoted_table, error.what());
  }
}

Position PgRebuild::take_snapshot() {
  return reconnecting("creating the replication slot and its snapshot",
                      [&] { return copy_.take_snapshot(*main_); });
}

std::optional<std::uint64_t> PgRebuild::copy_chunk(std::uint64_t rows) {
  return reconnecting("copying a chunk", [&] { return copy_.copy_chunk(*main_, rows); });
}

void PgRebuild::release_snapshot() {
  // Released first: the index builds need no snapshot, and vacuum's horizon moves on.
  copy_.release_snapshot();
  reconnecting("building the shadow's key and unique indexes",
               [&] { shadow_.build_key_indexes(*main_); });
}

void PgRebuild::discard_copy() {
  reconnecting("making the shadow table again", [&] {
    copy_.discard(*main_);
    shadow_.create(*main_, /*replace=*/true);
  });
}

void PgRebuild::recopy(const Mismatch& mismatch) {
  reconnecting("re-copying a range", [&] { recopy_range(*main_, table_, mismatch); });
}

std::unique_ptr<ChangeApplier> PgRebuild::make_applier() {
  return std::make_unique<Applier>(*this, plan_.source.key_columns, plan_.mapped_columns);
}

void PgRebuild::replace_rows(const std::vector<Row>& delete_keys, const std::vector<Row>& rows,
                             const std::vector<Row>& fill_from) {
  // One transaction that deletes the batch's keys and writes their latest images: safe to redo
  // when the session was lost before the commit was acknowledged.
  reconnecting("applying changes",
               [&] { applier_.write_batch(*apply_, delete_keys, rows, fill_from); });
}

std::unique_ptr<VerifySnapshots> PgRebuild::open_verify_snapshots(const DrainTo& drain_to) {
  std::unique_ptr<Connection> lock_session = open_session();
  std::unique_ptr<Connection> source = open_session();
  std::unique_ptr<Connection> shadow = open_session();
  auto snapshots =
      retry_lock_waits("verification's write block", cut_over_lock_policy(options_), [&] {
        TableLock lock(*lock_session,
                       lock_past_vacuum(table_.quoted_table, plan_.source.name,
                                        LockMode::block_writes, options_.cutover_lock_timeout));
        const auto blocked = std::chrono::steady_clock::now();
        // Writes are blocked and the shadow holds every change before this point.
        drain_to(log_position());
        auto opened = std::make_unique<PgSnapshots>(table_, std::move(source), std::move(shadow));
        lock.release();
        spdlog::info("verification blocked writes for {} ms to take a consistent snapshot",
                     ms_since(blocked));
        return opened;
      });
  if (shadow_.has_deferred_indexes()) {
    snapshots->build_indexes(
        open_session(), [this](Connection& session) { shadow_.build_deferred_indexes(session); });
  }
  return snapshots;
}

CutOverResult PgRebuild::cut_over(const RebuildOptions& options, const DrainTo& drain_to) {
  const auto catch_up = [&] {
    const auto blocked = std::chrono::steady_clock::now();
    const auto apply_before = applier_.apply_time();
    const Position target = log_position();
    const auto positioned = std::chrono::steady_clock::now();
    drain_to(target);
    spdlog::debug(
        "cut-over: writes blocked, change stream drained to {}: {} ms to write the position, {} "
        "ms to drain, of which {} ms applying",
        to_string(target), ms_since(blocked, positioned), ms_since(positioned),
        std::chrono::duration_cast<milliseconds>(applier_.apply_time() - apply_before).count());
  };
  // Given up before the swap's own locks, which would otherwise wait for it to be let go.
  rewrite_lock_.reset();
  std::vector<Dependent> recreated;
  std::optional<ReverseSlot> reverse;
  if (options.revertible && !options.drop_old_table) {
    reverse.emplace(*main_, pg::ConnectionParams{dsn_.pg_conninfo, password_}, table_);
  }
  CutOverResult result = postgres::cut_over(
      table_, options, [this] { return open_session(); }, catch_up, reverse.has_value(), recreated);
  if (reverse) {
    reverse->keep();
    result.reverse_slot = reverse->name();
  }
  // A revert's own stream is that slot, dropped when the stream ends.
  if (!table_.adopted_old) {
    drop_previous_reverse_slot(*main_, pg::ConnectionParams{dsn_.pg_conninfo, password_}, table_);
  }
  validate_foreign_keys(*main_, recreated);
  return result;
}

}  // namespace sluice::postgres

#include "src/mysql/mysql_rebuild.h"

#include <cstdlib>
#include <string>

#include "replication/mysql/binlog_stream.h"
#include "src/mysql/mysql_binlog.h"
#include "src/mysql/mysql_schema.h"
#include "src/reconnect.h"

namespace sluice::mysql {

MysqlRebuild::MysqlRebuild(const Dsn& dsn, const std::optional<std::string>& password)
    : sessions_(dsn, password),
      shadow_(sessions_),
      copy_(sessions_, shadow_.table()),
      apply_(sessions_, shadow_.table()),
      verify_(sessions_, shadow_.table()),
      cut_over_(sessions_, shadow_.table()) {}

ddl::QualifiedName MysqlRebuild::resolve_table(const std::string& table) {
  return resolve_table_name(sessions_.dsn(), table);
}

const RebuildPlan& MysqlRebuild::plan(const RebuildOptions& options) {
  options_ = options;
  sessions_.set_reconnect_policy(options.reconnect);
  return shadow_.plan(options);
}

bool MysqlRebuild::apply_in_place(const RebuildOptions& options) {
  return shadow_.apply_in_place(options);
}

void MysqlRebuild::create_shadow() {
  shadow_.create_shadow(options_.hold_back_indexes);
}

void MysqlRebuild::complete_shadow() {
  retry_on_connection_loss(
      "building the shadow table's indexes", options_.reconnect, [this] { reconnect(); },
      [this] { shadow_.build_held_back_indexes(); });
}

void MysqlRebuild::attach_shadow() {
  shadow_.attach_shadow();
}

bool MysqlRebuild::complete_interrupted_swap(const std::string& table,
                                             const std::string& old_suffix) {
  return shadow_.complete_interrupted_swap(table, old_suffix);
}

void MysqlRebuild::drop_shadow() {
  shadow_.drop_shadow();
}

void MysqlRebuild::reconnect() {
  sessions_.reconnect();
}

replication::Position MysqlRebuild::log_position() {
  return sessions_.log_position();
}

std::unique_ptr<replication::ChangeStream> MysqlRebuild::open_stream(
    const replication::Position& start) {
  replication::mysql::BinlogConnectionOptions connection =
      binlog_connection(sessions_.dsn(), sessions_.password());
  // The drains at verification and cut-over wait for the stream to report the position read
  // under the write lock; an idle server only reports it with a heartbeat, so the heartbeat
  // period bounds how long writes stay blocked.
  connection.heartbeat_period = std::chrono::milliseconds(20);
  connection.reconnect_timeout =
      std::chrono::ceil<std::chrono::seconds>(options_.reconnect.give_up_after);
  const TableSchema& source = shadow_.table().source;
  replication::mysql::TableSelector selector;
  selector.schema = source.name.schema;
  selector.table = source.name.name;
  for (std::size_t column : source.key_columns) {
    selector.key_columns.push_back(source.columns[column].name);
  }
  replication::mysql::DecoderOptions decoder;
  decoder.tables.push_back(selector);
  decoder.full_images = true;
  return std::make_unique<replication::mysql::BinlogStream>(connection, decoder, start);
}

std::unique_ptr<VerifySnapshots> MysqlRebuild::open_verify_snapshots(const DrainTo& drain_to) {
  return verify_.open_snapshots(options_, drain_to);
}

void MysqlRebuild::recopy(const Mismatch& range) {
  copy_.recopy(range);
}

CutOverResult MysqlRebuild::cut_over(const RebuildOptions& options, const DrainTo& drain_to) {
  return cut_over_.cut_over(options, drain_to);
}

std::optional<replication::Row> MysqlRebuild::chunk_end(
    const std::optional<replication::Row>& after, std::uint64_t rows) {
  return copy_.chunk_end(after, rows);
}

std::uint64_t MysqlRebuild::copy_range(const std::optional<replication::Row>& after,
                                       const replication::Row& up_to) {
  return copy_.copy_range(after, up_to);
}

namespace {

// SLUICE_APPLY_KEYS_IN_MEMORY lowers the applier's in-memory key limit, so that a test can make
// a small run spill changed keys to disk (docs/alter.md); anything not a positive number is
// ignored.
std::size_t keys_in_memory() {
  if (const char* value = std::getenv("SLUICE_APPLY_KEYS_IN_MEMORY")) {
    char* end = nullptr;
    const unsigned long long limit = std::strtoull(value, &end, 10);
    if (end != value && *end == '\0' && limit > 0) {
      return static_cast<std::size_t>(limit);
    }
  }
  return ResyncApplier::kDefaultKeysInMemory;
}

}  // namespace

std::unique_ptr<ChangeApplier> MysqlRebuild::make_applier() {
  return std::make_unique<ResyncApplier>(apply_, shadow_.table().source.key_columns,
                                         keys_in_memory());
}

void MysqlRebuild::drop_old_table() {
  shadow_.drop_old_table();
}

std::vector<std::string> MysqlRebuild::cleanup(const std::string& table) {
  return shadow_.cleanup(table);
}

std::vector<std::string> MysqlRebuild::revert_losses(const std::string& table,
                                                     const std::string& old_table) {
  return shadow_.revert_losses(table, old_table);
}

bool MysqlRebuild::log_retained(const Checkpoint& revert_point) {
  for (const ResultRow& row : sessions_.main().query("SHOW BINARY LOGS")) {
    if (row.at(0).value_or("") == revert_point.position.file) {
      return true;
    }
  }
  return false;
}

void MysqlRebuild::adopt_old_table(const std::string& table, const std::string& old_table) {
  shadow_.adopt_old_table(table, old_table);
}

bool MysqlRebuild::restore_old_table(const std::string& table, const std::string& old_table) {
  return shadow_.restore_old_table(table, old_table);
}

}  // namespace sluice::mysql

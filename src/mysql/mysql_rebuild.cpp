#include "src/mysql/mysql_rebuild.h"

#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <set>
#include <thread>

#include "ddl/ddl_error.h"
#include "replication/mysql/binlog_stream.h"
#include "src/error.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_binlog.h"
#include "src/mysql/mysql_preflight.h"
#include "src/mysql/mysql_schema.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

using replication::Position;
using replication::Row;
using std::chrono::milliseconds;

constexpr std::size_t kStatementRows = 500;
constexpr int kRowLockRetries = 5;
constexpr const char* kSentryComment = "sluice cut-over sentry";
// The cut-over renames the table to <table>_sluice_old, which doubles as the sentry. The server
// takes a RENAME's metadata locks in name order, and a name extending the table's name sorts
// after it: so the queued RENAME waits on the table itself, where it has priority over the
// application's queued writes once the lock is released. A sentry named _<table>_old would sort
// first; the RENAME would wait on the sentry instead, and after the sentry is dropped a write
// could take the table before the RENAME re-queued, landing in the old table after the drain.
constexpr std::string_view kSwapSuffix = "_sluice_old";
// The shadow table's name extends the table's name for the same reason. The RENAME locks the
// table first, then the shadow: with a shadow named _<table>_new the RENAME would lock the
// shadow first, and MariaDB's purge holds metadata locks on a table whose rows were deleted (the
// applier deletes in the shadow). The RENAME then waited on the shadow, looked queued, and writes
// took the table in the meantime: writes lost at cut-over, caught by the re-copy test.
constexpr std::string_view kShadowSuffix = "_sluice_new";

ddl::QualifiedName swap_name(const ddl::QualifiedName& table) {
  return {table.schema, table.name + std::string(kSwapSuffix)};
}

ddl::QualifiedName shadow_name(const ddl::QualifiedName& table) {
  return {table.schema, table.name + std::string(kShadowSuffix)};
}

// Where the old table is kept after the swap.
ddl::QualifiedName old_name(const ddl::QualifiedName& table) {
  return {table.schema, "_" + table.name + "_old"};
}
// How long the cut-over waits to see its RENAME queued behind the write lock.
constexpr milliseconds kRenameQueueWait{3000};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string quote(const std::string& name) {
  return ddl::quote_identifier(ddl::Dialect::mysql, name);
}

std::string quote(const ddl::QualifiedName& name) {
  return ddl::quote_qualified(ddl::Dialect::mysql, name);
}

bool is_retryable_lock_error(const ServerError& error) {
  return has_code(error, ER_LOCK_WAIT_TIMEOUT) || has_code(error, ER_LOCK_DEADLOCK);
}

// Runs `step`, retrying row-lock timeouts and deadlocks with a growing pause: the application
// holding a lock must win, and sluice must not give up on the first wait.
template <typename Step>
auto with_lock_retries(const char* what, Step step) {
  for (int attempt = 1;; ++attempt) {
    try {
      return step();
    } catch (const ServerError& error) {
      if (!is_retryable_lock_error(error) || attempt == kRowLockRetries) {
        throw;
      }
      spdlog::warn("{} waited for a row lock too long (attempt {}/{}); retrying", what, attempt,
                   kRowLockRetries);
      std::this_thread::sleep_for(milliseconds(200 * attempt));
    }
  }
}

// The type a column's value is cast to on both sides of a checksum when the ALTER changed the
// column's type, so equal values print equally (1.5 in DECIMAL(10,1) and DECIMAL(12,3)).
std::string checksum_cast(const std::string& expression, const ColumnInfo& shadow_column) {
  const std::string& type = shadow_column.data_type;
  static const std::vector<std::string> integers = {"tinyint", "smallint", "mediumint", "int",
                                                    "integer", "bigint",   "year"};
  if (std::find(integers.begin(), integers.end(), type) != integers.end()) {
    const bool is_unsigned = shadow_column.column_type.find("unsigned") != std::string::npos;
    return "CAST(" + expression + (is_unsigned ? " AS UNSIGNED)" : " AS SIGNED)");
  }
  if (type == "decimal" || type == "numeric") {
    const std::string& full = shadow_column.column_type;
    const std::size_t open = full.find('(');
    const std::size_t close = full.find(')');
    const std::string precision =
        open == std::string::npos ? "" : full.substr(open, close - open + 1);
    return "CAST(" + expression + " AS DECIMAL" + precision + ")";
  }
  if (type == "float" || type == "double" || type == "real") {
    return "CAST(" + expression + " AS DOUBLE)";
  }
  if (type == "date") {
    return "CAST(" + expression + " AS DATE)";
  }
  if (type == "datetime" || type == "timestamp" || type == "time") {
    const std::string& full = shadow_column.column_type;
    const std::size_t open = full.find('(');
    const std::string fraction = open == std::string::npos ? "" : full.substr(open);
    return "CAST(" + expression + (type == "time" ? " AS TIME" : " AS DATETIME") + fraction + ")";
  }
  if (type == "bit") {
    return "CAST(" + expression + " AS UNSIGNED)";
  }
  const replication::ValueKind kind = value_kind(shadow_column);
  if (kind == replication::ValueKind::binary) {
    return "CAST(" + expression + " AS BINARY)";
  }
  if (kind == replication::ValueKind::text && !shadow_column.charset.empty()) {
    return "CONVERT(" + expression + " USING " + shadow_column.charset + ")";
  }
  return expression;
}

const std::set<std::string>& integer_types() {
  static const std::set<std::string> types = {"tinyint", "smallint", "mediumint",
                                              "int",     "integer",  "bigint"};
  return types;
}

// Key values of every integer width, signed or unsigned, fit in 128 bits with room for the span.
__int128 parse_integer(const std::string& text) {
  __int128 value = 0;
  const bool negative = !text.empty() && text.front() == '-';
  for (std::size_t i = negative ? 1 : 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      throw Error(ExitCode::failure, "the server returned a malformed integer key: " + text);
    }
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

std::string integer_text(__int128 value) {
  if (value == 0) {
    return "0";
  }
  const bool negative = value < 0;
  std::string digits;
  for (__int128 rest = negative ? -value : value; rest > 0; rest /= 10) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(rest % 10)));
  }
  return negative ? "-" + digits : digits;
}

}  // namespace

MysqlRebuild::MysqlRebuild(const Dsn& dsn, const std::optional<std::string>& password)
    : dsn_(dsn), password_(password) {
  main_ = open_copy_session();
}

std::unique_ptr<Connection> MysqlRebuild::open_copy_session() {
  std::unique_ptr<Connection> connection = open_session();
  // The copy reads the source without locking it (a consistent read of the latest committed
  // rows), so it never makes the application wait for or deadlock with a chunk. Rows that change
  // meanwhile reach the shadow through the change stream, which the applier holds back until
  // the chunk covering them has committed.
  connection->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  return connection;
}

void MysqlRebuild::reconnect() {
  main_ = open_copy_session();
  if (apply_) {
    apply_ = open_session();
  }
  spdlog::info("reconnected to {}", dsn_.display());
}

template <typename Unit>
auto MysqlRebuild::reconnecting(const char* what, Unit unit) {
  return retry_on_connection_loss(
      what, options_.reconnect, [this] { reconnect(); }, unit);
}

std::unique_ptr<Connection> MysqlRebuild::open_session() {
  auto connection = std::make_unique<Connection>(dsn_, password_);
  // UTC so TIMESTAMP values read and written here match the binlog's; strict so a value that
  // does not fit its new column is an error, never a silent truncation; NO_AUTO_VALUE_ON_ZERO
  // so a row with id 0 is copied as 0, not given a fresh AUTO_INCREMENT value.
  connection->execute(
      "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO', "
      "innodb_lock_wait_timeout = 5");
  return connection;
}

bool MysqlRebuild::table_exists(const ddl::QualifiedName& name) {
  return !main_
              ->query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                      main_->quote_literal(name.schema) +
                      " AND TABLE_NAME = " + main_->quote_literal(name.name))
              .empty();
}

bool MysqlRebuild::is_sentry(const ddl::QualifiedName& name) {
  return main_->query_value(
             "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE "
             "TABLE_SCHEMA = " +
             main_->quote_literal(name.schema) +
             " AND TABLE_NAME = " + main_->quote_literal(name.name)) == kSentryComment;
}

bool MysqlRebuild::complete_interrupted_swap(const std::string& table) {
  const ddl::QualifiedName name = resolve_table_name(dsn_, table);
  const ddl::QualifiedName swap = swap_name(name);
  const ddl::QualifiedName old = old_name(name);
  if (!table_exists(swap)) {
    // Killed after the swap and after giving the old table its kept name: a run only starts
    // while that name is free, so the table under it is this run's old table.
    if (!table_exists(shadow_name(name)) && table_exists(old)) {
      spdlog::info(
          "the killed run had swapped the tables already: {} has the new schema, the old "
          "table is kept as {}",
          quote(name), quote(old));
      return true;
    }
    return false;
  }
  if (is_sentry(swap)) {
    // The RENAME queued behind it failed or never ran: the table is the original.
    main_->execute("DROP TABLE " + quote(swap));
    spdlog::info("dropped the sentry {} of the interrupted cut-over", quote(swap));
    return false;
  }
  if (table_exists(shadow_name(name))) {
    throw Error(ExitCode::preflight_failed,
                quote(swap) +
                    " exists and is not sluice's sentry, yet the shadow table was not "
                    "swapped in; rename or drop it, then resume again");
  }
  main_->execute("RENAME TABLE " + quote(swap) + " TO " + quote(old));
  spdlog::info(
      "the killed run had swapped the tables already: {} has the new schema, the old "
      "table is kept as {}",
      quote(name), quote(old));
  return true;
}

ddl::QualifiedName MysqlRebuild::resolve_table(const std::string& table) {
  return resolve_table_name(dsn_, table);
}

const RebuildPlan& MysqlRebuild::plan(const RebuildOptions& options) {
  options_ = options;
  const ddl::QualifiedName table = resolve_table_name(dsn_, options.table);
  run_preflight(*main_, table).refuse_unless_ready();
  plan_.analysis = analyze_alter_option(ddl::Dialect::mysql, options.alter);
  if (plan_.analysis.changes_primary_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER changes the primary key, which the copy and the change stream use to "
                "match rows; sluice does not change it online yet");
  }
  if (plan_.analysis.adds_unique_key && !options.discard_duplicates) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER adds a UNIQUE key, and rows with duplicate values cannot all be "
                "copied into it; deduplicate first, or pass --discard-duplicates to keep one row "
                "per value and have the others counted and reported");
  }
  plan_.alter = options.alter;
  plan_.source = describe_table(*main_, table);
  for (std::size_t column : plan_.source.key_columns) {
    const ColumnInfo& info = plan_.source.columns[column];
    if (!supports_client_order(value_kind(info)) || info.data_type == "time") {
      throw Error(ExitCode::preflight_failed,
                  "the key column " + quote(info.name) + " is of type " + info.column_type +
                      "; sluice orders keys itself and supports integer, decimal, binary and "
                      "date/datetime/timestamp key columns so far");
    }
  }
  if (table.name.size() > 64 - kSwapSuffix.size()) {
    throw Error(ExitCode::preflight_failed,
                "the table name is longer than " + std::to_string(64 - kSwapSuffix.size()) +
                    " characters, leaving no room for sluice's helper tables within MySQL's "
                    "64-character limit");
  }
  plan_.shadow = shadow_name(table);
  plan_.old = old_name(table);
  swap_ = swap_name(table);
  if (table_exists(swap_)) {
    throw Error(ExitCode::preflight_failed,
                quote(swap_) +
                    " exists, left by an interrupted cut-over; run sluice cleanup "
                    "--table " +
                    options.table + " (it drops a sentry) or rename it");
  }
  if (options.resume && !table_exists(plan_.shadow)) {
    throw Error(ExitCode::preflight_failed,
                "the shadow table " + quote(plan_.shadow) +
                    " of the run to resume is gone, so it cannot resume; start a new run");
  }
  if (!options.resume && table_exists(plan_.shadow)) {
    throw Error(ExitCode::preflight_failed,
                "the shadow table " + quote(plan_.shadow) +
                    " already exists, left by an earlier run; resume that run (sluice resume) "
                    "or run sluice cleanup --table " +
                    options.table + " to drop it");
  }
  if (table_exists(plan_.old)) {
    throw Error(ExitCode::preflight_failed,
                quote(plan_.old) +
                    " exists (the old table of an earlier migration, or its sentry); drop it "
                    "once you no longer need it, then run sluice alter again");
  }
  std::vector<std::string> dropped;
  for (const std::string& column : plan_.analysis.dropped_columns) {
    dropped.push_back(lower(column));
  }
  plan_.mapped_columns.clear();
  for (std::size_t i = 0; i < plan_.source.columns.size(); ++i) {
    const ColumnInfo& column = plan_.source.columns[i];
    const bool is_dropped =
        std::find(dropped.begin(), dropped.end(), lower(column.name)) != dropped.end();
    if (!column.generated && !is_dropped) {
      plan_.mapped_columns.push_back(i);
    }
  }
  plan_.estimated_rows = std::stoull(
      main_
          ->query_value("SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE "
                        "TABLE_SCHEMA = " +
                        main_->quote_literal(table.schema) +
                        " AND TABLE_NAME = " + main_->quote_literal(table.name))
          .value_or("0"));
  plan_.try_instant = plan_.analysis.instant_candidate;
  std::string clauses;
  for (const std::string& clause : plan_.analysis.clauses) {
    clauses += (clauses.empty() ? "" : ", ") + clause;
  }
  quoted_source_ = quote(table);
  quoted_shadow_ = quote(plan_.shadow);
  quoted_old_ = quote(plan_.old);
  quoted_swap_ = quote(swap_);
  plan_.shadow_ddl = {"CREATE TABLE " + quoted_shadow_ + " LIKE " + quoted_source_,
                      "ALTER TABLE " + quoted_shadow_ + " " + clauses};
  force_key_ = " FORCE INDEX (" + quote(plan_.source.key_name) + ")";
  select_columns_.clear();
  for (std::size_t column : plan_.mapped_columns) {
    select_columns_ +=
        (select_columns_.empty() ? "" : ", ") + quote(plan_.source.columns[column].name);
  }
  return plan_;
}

bool MysqlRebuild::apply_in_place(const RebuildOptions& options) {
  std::string clauses;
  for (const std::string& clause : plan_.analysis.clauses) {
    clauses += clause + ", ";
  }
  main_->execute("SET SESSION lock_wait_timeout = " +
                 std::to_string(lock_wait_seconds(options.cutover_lock_timeout)));
  for (int attempt = 1; attempt <= options.cutover_attempts; ++attempt) {
    try {
      main_->execute("ALTER TABLE " + quoted_source_ + " " + clauses + "ALGORITHM=INSTANT");
      spdlog::info("the server applied the change in place (ALGORITHM=INSTANT); no copy needed");
      return true;
    } catch (const ServerError& error) {
      if (has_code(error, ER_ALTER_OPERATION_NOT_SUPPORTED) ||
          has_code(error, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON)) {
        spdlog::info("the server cannot apply this change in place; rebuilding online");
        return false;
      }
      if (!has_code(error, ER_LOCK_WAIT_TIMEOUT) || attempt == options.cutover_attempts) {
        throw;
      }
      spdlog::warn("in-place ALTER could not get its lock within {} ms (attempt {}/{}); retrying",
                   options.cutover_lock_timeout.count(), attempt, options.cutover_attempts);
      std::this_thread::sleep_for(milliseconds(500 * attempt));
    }
  }
  return false;
}

void MysqlRebuild::create_shadow() {
  for (const std::string& statement : plan_.shadow_ddl) {
    try {
      main_->execute(statement);
    } catch (const ServerError& error) {
      main_->execute("DROP TABLE IF EXISTS " + quoted_shadow_);
      throw Error(ExitCode::usage,
                  std::string("the server refused the ALTER on the shadow table: ") + error.what());
    }
  }
  try {
    attach_shadow();
  } catch (const Error&) {
    drop_shadow();
    throw;
  }
}

void MysqlRebuild::attach_shadow() {
  shadow_schema_ = describe_table(*main_, plan_.shadow);
  for (std::size_t column : plan_.mapped_columns) {
    const std::string& name = plan_.source.columns[column].name;
    std::optional<std::size_t> target = shadow_schema_.find(name);
    if (!target || shadow_schema_.columns[*target].generated) {
      throw Error(ExitCode::usage, "the ALTER turns column " + quote(name) +
                                       " into a generated column or removes it in a way sluice "
                                       "did not recognise; drop it explicitly with DROP COLUMN");
    }
  }
  std::vector<std::string> source_key;
  std::vector<std::string> shadow_key;
  for (std::size_t column : plan_.source.key_columns) {
    source_key.push_back(plan_.source.columns[column].name);
  }
  for (std::size_t column : shadow_schema_.key_columns) {
    shadow_key.push_back(shadow_schema_.columns[column].name);
  }
  if (source_key != shadow_key) {
    throw Error(ExitCode::preflight_failed,
                "the ALTER changes the key the copy walks; sluice does not change it online yet");
  }
  added_unique_keys_.clear();
  const std::map<std::string, UniqueKey> source_keys = unique_keys(*main_, plan_.source.name);
  for (const auto& [name, key] : unique_keys(*main_, plan_.shadow)) {
    if (std::none_of(source_keys.begin(), source_keys.end(), [&](const auto& existing) {
          return existing.second.columns == key.columns;
        })) {
      added_unique_keys_.push_back(key.columns);
    }
  }
  apply_ = open_session();
  spdlog::info("shadow table {} ready", quoted_shadow_);
}

void MysqlRebuild::drop_shadow() {
  main_->execute("DROP TABLE IF EXISTS " + quoted_shadow_);
}

Position MysqlRebuild::log_position() {
  std::vector<ResultRow> rows = reconnecting("reading the binlog position",
                                             [&] { return main_->query("SHOW MASTER STATUS"); });
  if (rows.empty() || rows.front().size() < 2 || !rows.front()[0] || !rows.front()[1]) {
    throw Error(ExitCode::preflight_failed,
                "SHOW MASTER STATUS returned nothing: the binary log is off");
  }
  Position position;
  position.file = *rows.front()[0];
  position.offset = std::stoull(*rows.front()[1]);
  return position;
}

std::unique_ptr<replication::ChangeStream> MysqlRebuild::open_stream(const Position& start) {
  replication::mysql::BinlogConnectionOptions connection = binlog_connection(dsn_, password_);
  // The drains at verification and cut-over wait for the stream to report the position read
  // under the write lock; an idle server only reports it with a heartbeat, so the heartbeat
  // period bounds how long writes stay blocked.
  connection.heartbeat_period = milliseconds(20);
  connection.reconnect_timeout =
      std::chrono::ceil<std::chrono::seconds>(options_.reconnect.give_up_after);
  replication::mysql::DecoderOptions decoder;
  replication::mysql::TableSelector selector;
  selector.schema = plan_.source.name.schema;
  selector.table = plan_.source.name.name;
  for (std::size_t column : plan_.source.key_columns) {
    selector.key_columns.push_back(plan_.source.columns[column].name);
  }
  decoder.tables.push_back(selector);
  decoder.full_images = true;
  return std::make_unique<replication::mysql::BinlogStream>(connection, decoder, start);
}

std::optional<Row> MysqlRebuild::read_key(Connection& connection, const std::string& sql) {
  std::vector<ResultRow> rows = connection.query(sql);
  if (rows.empty()) {
    return std::nullopt;
  }
  Row key;
  for (std::size_t i = 0; i < plan_.source.key_columns.size(); ++i) {
    const ColumnInfo& column = plan_.source.columns[plan_.source.key_columns[i]];
    key.push_back(key_value_from_text(column, rows.front()[i].value_or("")));
  }
  return key;
}

std::optional<Row> MysqlRebuild::snapshot_chunk_end(Connection& connection,
                                                    const std::optional<Row>& after,
                                                    std::uint64_t rows) {
  std::string select;
  std::string ascending;
  std::string descending;
  for (std::size_t column : plan_.source.key_columns) {
    const ColumnInfo& info = plan_.source.columns[column];
    select += (select.empty() ? "" : ", ") + key_select_expression(info);
    ascending += (ascending.empty() ? "" : ", ") + quote(info.name);
    descending += (descending.empty() ? "" : ", ") + quote(info.name) + " DESC";
  }
  const std::string from = " FROM " + quoted_source_ + force_key_ +
                           (after ? " WHERE " + key_after(plan_.source, *after) : "");
  if (std::optional<Row> end =
          read_key(connection, "SELECT " + select + from + " ORDER BY " + ascending +
                                   " LIMIT 1 OFFSET " + std::to_string(rows - 1))) {
    return end;
  }
  return read_key(connection, "SELECT " + select + from + " ORDER BY " + descending + " LIMIT 1");
}

std::optional<Row> MysqlRebuild::chunk_end(const std::optional<Row>& after, std::uint64_t rows) {
  return reconnecting("finding the next chunk", [&] { return find_chunk_end(after, rows); });
}

std::optional<Row> MysqlRebuild::find_chunk_end(const std::optional<Row>& after,
                                                std::uint64_t rows) {
  if (plan_.source.key_columns.size() != 1 ||
      !integer_types().contains(plan_.source.columns[plan_.source.key_columns.front()].data_type)) {
    return snapshot_chunk_end(*main_, after, rows);
  }
  // A single integer key: the chunk is a span of key values, found without reading the rows
  // twice (an OFFSET walk reads the whole range before the copy reads it again). Gaps make a
  // chunk lighter; the sizer then widens the span, as it learns from the time a chunk takes.
  const ColumnInfo& key = plan_.source.columns[plan_.source.key_columns.front()];
  const std::string column = quote(key.name);
  const std::optional<std::string> last =
      main_->query_value("SELECT MAX(" + column + ") FROM " + quoted_source_);
  if (!last) {
    return std::nullopt;
  }
  __int128 low = 0;
  if (after) {
    low = parse_integer(after->front().text);
  } else {
    low =
        parse_integer(
            main_->query_value("SELECT MIN(" + column + ") FROM " + quoted_source_).value_or("0")) -
        1;
  }
  const __int128 high = parse_integer(*last);
  if (low >= high) {
    return std::nullopt;
  }
  const __int128 end = std::min<__int128>(high, low + static_cast<__int128>(rows));
  return Row{replication::Value{replication::ValueKind::number, integer_text(end)}};
}

std::string MysqlRebuild::range_predicate(const std::optional<Row>& after,
                                          const std::optional<Row>& up_to) const {
  std::vector<std::string> bounds;
  if (after) {
    bounds.push_back(key_after(plan_.source, *after));
  }
  if (up_to) {
    bounds.push_back(key_up_to(plan_.source, *up_to));
  }
  if (bounds.empty()) {
    return "TRUE";
  }
  return bounds.size() == 1 ? bounds.front() : bounds.front() + " AND " + bounds.back();
}

std::string MysqlRebuild::copy_statement(const std::string& where) const {
  return "INSERT IGNORE INTO " + quoted_shadow_ + " (" + select_columns_ + ") SELECT " +
         select_columns_ + " FROM " + quoted_source_ + force_key_ + " WHERE " + where;
}

void MysqlRebuild::check_copy_warnings() {
  if (main_->warning_count() == 0) {
    return;
  }
  // IGNORE turns conversion errors into warnings too; only duplicate keys are expected (a row
  // the applier wrote from a later image), anything else would change data.
  for (const ResultRow& warning : main_->query("SHOW WARNINGS")) {
    if (warning.size() >= 3 && warning[1].value_or("") != std::to_string(ER_DUP_ENTRY)) {
      throw Error(ExitCode::failure,
                  "copying would change data (" + warning[2].value_or("") +
                      "); the ALTER narrows or converts a column so that existing values do "
                      "not fit; widen the new column or fix those rows first");
    }
  }
}

std::uint64_t MysqlRebuild::copy_range(const std::optional<Row>& after, const Row& up_to) {
  const std::string sql = copy_statement(range_predicate(after, up_to));
  // INSERT IGNORE of a key range is safe to redo: a chunk that committed before its session was
  // lost copies nothing twice.
  return reconnecting("copying a chunk", [&] {
    const std::uint64_t copied =
        with_lock_retries("a copy chunk", [&] { return main_->execute(sql); });
    check_copy_warnings();
    return copied;
  });
}

void MysqlRebuild::recopy(const Mismatch& range) {
  const std::string where = range_predicate(range.after, range.up_to);
  reconnecting("re-copying a range", [&] {
    return with_lock_retries("re-copying a range", [&] {
      main_->execute("START TRANSACTION");
      try {
        main_->execute("DELETE FROM " + quoted_shadow_ + " WHERE " + where);
        const std::uint64_t copied = main_->execute(copy_statement(where));
        check_copy_warnings();
        main_->execute("COMMIT");
        return copied;
      } catch (...) {
        main_->execute("ROLLBACK");
        throw;
      }
    });
  });
}

void MysqlRebuild::replace_rows(const std::vector<Row>& delete_keys, const std::vector<Row>& rows,
                                const std::vector<Row>& /*fill_from*/) {
  std::string target_columns;
  for (std::size_t column : plan_.mapped_columns) {
    target_columns +=
        (target_columns.empty() ? "" : ", ") + quote(plan_.source.columns[column].name);
  }
  // Deleting the batch's keys and writing their latest images is safe to redo: a batch whose
  // commit was not acknowledged before the session was lost lands the same way again.
  reconnecting("applying changes", [&] {
    return with_lock_retries("applying changes", [&] {
      apply_->execute("START TRANSACTION");
      try {
        for (std::size_t start = 0; start < delete_keys.size(); start += kStatementRows) {
          const std::size_t end = std::min(delete_keys.size(), start + kStatementRows);
          std::vector<Row> batch(delete_keys.begin() + static_cast<std::ptrdiff_t>(start),
                                 delete_keys.begin() + static_cast<std::ptrdiff_t>(end));
          apply_->execute("DELETE FROM " + quoted_shadow_ + " WHERE " +
                          key_in(plan_.source, batch));
        }
        for (std::size_t start = 0; start < rows.size(); start += kStatementRows) {
          const std::size_t end = std::min(rows.size(), start + kStatementRows);
          std::string sql = "REPLACE INTO " + quoted_shadow_ + " (" + target_columns + ") VALUES ";
          for (std::size_t r = start; r < end; ++r) {
            sql += r > start ? ", (" : "(";
            for (std::size_t i = 0; i < plan_.mapped_columns.size(); ++i) {
              sql += (i > 0 ? ", " : "") +
                     sql_literal(rows[r][i], plan_.source.columns[plan_.mapped_columns[i]]);
            }
            sql += ")";
          }
          apply_->execute(sql);
        }
        apply_->execute("COMMIT");
      } catch (...) {
        apply_->execute("ROLLBACK");
        throw;
      }
      return 0;
    });
  });
}

std::string MysqlRebuild::checksum_query(const ddl::QualifiedName& table,
                                         const std::string& where) const {
  std::string values;
  for (std::size_t column : plan_.mapped_columns) {
    const ColumnInfo& source_column = plan_.source.columns[column];
    const ColumnInfo& shadow_column =
        shadow_schema_.columns[*shadow_schema_.find(source_column.name)];
    std::string expression = quote(source_column.name);
    if (source_column.column_type != shadow_column.column_type ||
        source_column.charset != shadow_column.charset) {
      expression = checksum_cast(expression, shadow_column);
    }
    // ISNULL() marks NULLs, which CONCAT_WS would otherwise skip without a trace.
    values += ", ISNULL(" + quote(source_column.name) + "), " + expression;
  }
  return "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#'" + values + "))), 0) FROM " +
         quote(table) + " WHERE " + where;
}

// The two snapshots of a MySQL verification: one per table, both opened while writes were
// blocked and the stream drained (the shadow is written only by this process, between steps), so
// they see the same moment and the two sides are summed in parallel.
class MysqlRebuild::Snapshots : public VerifySnapshots {
 public:
  Snapshots(MysqlRebuild& rebuild, std::unique_ptr<Connection> source,
            std::unique_ptr<Connection> shadow)
      : rebuild_(rebuild),
        source_(std::move(source)),
        shadow_(std::move(shadow)),
        source_view_(*source_, "START TRANSACTION WITH CONSISTENT SNAPSHOT"),
        shadow_view_(*shadow_, "START TRANSACTION WITH CONSISTENT SNAPSHOT") {}

  std::optional<Row> chunk_end(const std::optional<Row>& after, std::uint64_t rows) override {
    return rebuild_.snapshot_chunk_end(*source_, after, rows);
  }

  ChunkSum source_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    const std::string where = rebuild_.range_predicate(after, up_to);
    if (rebuild_.added_unique_keys_.empty()) {
      return sum(*source_, rebuild_.checksum_query(rebuild_.plan_.source.name, where));
    }
    ChunkSum kept = sum(*source_, rebuild_.checksum_query(rebuild_.plan_.source.name,
                                                          where + " AND " + rebuild_.kept_rows(where)));
    rebuild_.count_discarded(*source_, after, up_to, kept);
    return kept;
  }

  ChunkSum shadow_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    return sum(*shadow_,
               rebuild_.checksum_query(rebuild_.plan_.shadow, rebuild_.range_predicate(after, up_to)));
  }

  void finish() override {
    source_view_.commit();
    shadow_view_.commit();
  }

 private:
  static ChunkSum sum(Connection& connection, const std::string& sql) {
    const ResultRow row = connection.query(sql).front();
    ChunkSum sum;
    sum.rows = std::stoull(row[0].value_or("0"));
    sum.checksum = row[1].value_or("");
    return sum;
  }

  MysqlRebuild& rebuild_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> shadow_;
  Transaction source_view_;
  Transaction shadow_view_;
};

std::unique_ptr<VerifySnapshots> MysqlRebuild::open_verify_snapshots(const DrainTo& drain_to) {
  std::unique_ptr<Connection> lock_session = open_session();
  std::unique_ptr<Connection> source = open_session();
  std::unique_ptr<Connection> shadow = open_session();
  for (Connection* snapshot : {source.get(), shadow.get()}) {
    snapshot->execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  }
  return retry_lock_waits("verification's write block", cut_over_lock_policy(options_), [&] {
    TableLock lock(*lock_session, {{plan_.source.name, LockMode::block_writes}},
                   options_.cutover_lock_timeout);
    const auto blocked = std::chrono::steady_clock::now();
    drain_to(log_position());
    auto snapshots = std::make_unique<Snapshots>(*this, std::move(source), std::move(shadow));
    lock.release();
    spdlog::info("verification blocked writes for {} ms to take a consistent snapshot",
                 std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - blocked)
                     .count());
    return std::unique_ptr<VerifySnapshots>(std::move(snapshots));
  });
}

std::string MysqlRebuild::kept_rows(const std::string& where) const {
  const std::string key = column_list(plan_.source, plan_.source.key_columns);
  return key + " IN (SELECT " + key + " FROM " + quoted_shadow_ + " WHERE " + where + ")";
}

void MysqlRebuild::count_discarded(Connection& snapshot, const std::optional<Row>& after,
                                   const std::optional<Row>& up_to, ChunkSum& sum) const {
  const std::string where = range_predicate(after, up_to);
  const std::string missing = "SELECT COUNT(*) FROM " + quoted_source_ + " AS s WHERE " + where +
                              " AND NOT " + kept_rows(where);
  sum.discarded = std::stoull(snapshot.query_value(missing).value_or("0"));
  if (sum.discarded == 0) {
    return;
  }
  // A row may only be missing because the shadow holds another row with its values in one of
  // the new unique keys; any other missing row is a lost row.
  std::string duplicated;
  for (const std::vector<std::string>& columns : added_unique_keys_) {
    std::string same;
    for (const std::string& column : columns) {
      same += (same.empty() ? "" : " AND ") + ("h." + quote(column)) + " = s." + quote(column);
    }
    duplicated += (duplicated.empty() ? "" : " OR ") + std::string("EXISTS (SELECT 1 FROM ") +
                  quoted_shadow_ + " AS h WHERE " + same + ")";
  }
  const std::string unexplained =
      snapshot.query_value(missing + " AND NOT (" + duplicated + ")").value_or("0");
  if (unexplained != "0") {
    sum.unexplained = "keys after " +
                      (after ? replication::format_value(after->front()) : std::string("start")) +
                      " up to " +
                      (up_to ? replication::format_value(up_to->front()) : std::string("end")) +
                      ": " + unexplained +
                      " rows of the original are missing from the shadow without a duplicate there";
  }
}

bool MysqlRebuild::try_cut_over(const RebuildOptions& options, const DrainTo& drain_to,
                                milliseconds& write_block) {
  std::unique_ptr<Connection> lock = open_session();
  std::unique_ptr<Connection> rename = open_session();
  const long seconds = lock_wait_seconds(options.cutover_lock_timeout);
  lock->execute("SET SESSION lock_wait_timeout = " + std::to_string(seconds));
  // The rename must outlast the drain and the hand-over below.
  rename->execute("SET SESSION lock_wait_timeout = " + std::to_string(seconds + 10));
  lock->execute("CREATE TABLE " + quoted_swap_ + " (sentry INT) COMMENT = '" + kSentryComment +
                "'");
  try {
    lock->execute("LOCK TABLES " + quoted_source_ + " WRITE, " + quoted_swap_ + " WRITE");
  } catch (const ServerError& error) {
    lock->execute("DROP TABLE IF EXISTS " + quoted_swap_);
    if (has_code(error, ER_LOCK_WAIT_TIMEOUT)) {
      spdlog::warn("cut-over could not lock {} within {} ms", quoted_source_,
                   options.cutover_lock_timeout.count());
      return false;
    }
    throw;
  }
  const auto blocked = std::chrono::steady_clock::now();
  // From here until the sentry is dropped, a failure (even sluice dying) leaves the sentry in
  // place, so the queued RENAME fails and the original table stays where it is.
  bool sentry_dropped = false;
  std::future<void> renamed;
  try {
    const Position target = log_position();
    drain_to(target);
    spdlog::debug("cut-over: writes blocked, change stream drained to {}", to_string(target));
    const unsigned long rename_id = rename->id();
    renamed = std::async(std::launch::async, [&] {
      rename->execute("RENAME TABLE " + quoted_source_ + " TO " + quoted_swap_ + ", " +
                      quoted_shadow_ + " TO " + quoted_source_);
    });
    const auto deadline = std::chrono::steady_clock::now() + kRenameQueueWait;
    bool queued = false;
    while (!queued && std::chrono::steady_clock::now() < deadline &&
           renamed.wait_for(milliseconds(0)) != std::future_status::ready) {
      queued = !main_
                    ->query("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = " +
                            std::to_string(rename_id) +
                            " AND STATE LIKE 'Waiting for table metadata lock%'")
                    .empty();
      if (!queued) {
        std::this_thread::sleep_for(milliseconds(2));
      }
    }
    if (queued) {
      lock->execute("DROP TABLE " + quoted_swap_);
      sentry_dropped = true;
    }
  } catch (...) {
    lock->execute("UNLOCK TABLES");
    if (renamed.valid()) {
      renamed.wait();
    }
    lock->execute("DROP TABLE IF EXISTS " + quoted_swap_);
    throw;
  }
  lock->execute("UNLOCK TABLES");
  try {
    renamed.get();
  } catch (const ServerError& error) {
    if (!sentry_dropped) {
      lock->execute("DROP TABLE IF EXISTS " + quoted_swap_);
    }
    spdlog::warn("cut-over rename did not happen ({}); the original table is untouched",
                 error.what());
    return false;
  }
  write_block =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - blocked);
  return sentry_dropped;
}

CutOverResult MysqlRebuild::cut_over(const RebuildOptions& options, const DrainTo& drain_to) {
  CutOverResult result;
  for (result.attempts = 1; result.attempts <= options.cutover_attempts; ++result.attempts) {
    if (try_cut_over(options, drain_to, result.write_block)) {
      try {
        main_->execute("RENAME TABLE " + quoted_swap_ + " TO " + quoted_old_);
      } catch (const ServerError& error) {
        // The swap is done and the application runs on the new table; only the old table's
        // name is off. Say so rather than report the migration as failed.
        spdlog::warn("the old table is kept as {} (renaming it to {} failed: {})", quoted_swap_,
                     quoted_old_, error.what());
      }
      spdlog::info(
          "cut-over done: {} now has the new schema, the old table is {}; writes were "
          "blocked for {} ms",
          quoted_source_, quoted_old_, result.write_block.count());
      return result;
    }
    std::this_thread::sleep_for(milliseconds(500 * result.attempts));
  }
  throw Error(ExitCode::failure, "cut-over failed " + std::to_string(options.cutover_attempts) +
                                     " times (the table stayed busy); the original table is "
                                     "untouched; run sluice alter again at a quieter time");
}

void MysqlRebuild::drop_old_table() {
  main_->execute("DROP TABLE " + quoted_old_);
}

std::vector<std::string> MysqlRebuild::cleanup(const std::string& table) {
  // Only names derived from the table are ever dropped, and the old-table name only when it
  // carries the sentry's comment: an old table kept after a successful swap stays.
  const ddl::QualifiedName name = resolve_table_name(dsn_, table);
  const ddl::QualifiedName shadow = shadow_name(name);
  const ddl::QualifiedName sentry = swap_name(name);
  std::vector<std::string> dropped;
  if (table_exists(shadow)) {
    main_->execute("DROP TABLE " + quote(shadow));
    dropped.push_back(quote(shadow));
  }
  if (is_sentry(sentry)) {
    main_->execute("DROP TABLE " + quote(sentry));
    dropped.push_back(quote(sentry));
  }
  return dropped;
}

}  // namespace sluice::mysql

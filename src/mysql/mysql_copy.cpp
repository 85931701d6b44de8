#include "src/mysql/mysql_copy.h"

#include <mysqld_error.h>

#include "src/error.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_copy_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

using replication::Row;

std::optional<Row> read_key(Session& session, const TableSchema& source, const std::string& sql) {
  std::vector<ResultRow> rows = session.query(sql);
  if (rows.empty()) {
    return std::nullopt;
  }
  Row key;
  for (std::size_t i = 0; i < source.key_columns.size(); ++i) {
    const ColumnInfo& column = source.columns[source.key_columns[i]];
    key.push_back(key_value_from_text(column, rows.front()[i].value_or("")));
  }
  return key;
}

}  // namespace

std::optional<Row> offset_chunk_end(Session& session, const TableSchema& source,
                                    const std::optional<Row>& after, std::uint64_t rows) {
  if (std::optional<Row> end = read_key(session, source, chunk_end_sql(source, after, rows))) {
    return end;
  }
  return read_key(session, source, last_key_sql(source, after));
}

std::optional<Row> MysqlCopy::chunk_end(const std::optional<Row>& after, std::uint64_t rows) {
  return sessions_.reconnecting("finding the next chunk",
                                [&] { return find_chunk_end(after, rows); });
}

std::optional<Row> MysqlCopy::find_chunk_end(const std::optional<Row>& after, std::uint64_t rows) {
  Connection& main = sessions_.main();
  if (!has_integer_key(plan_.source)) {
    return offset_chunk_end(main, plan_.source, after, rows);
  }
  // A single integer key: the chunk is a span of key values, found without reading the rows
  // twice (an OFFSET walk reads the whole range before the copy reads it again). Gaps make a
  // chunk lighter; the sizer then widens the span, as it learns from the time a chunk takes.
  const std::optional<std::string> last = main.query_value(key_bound_sql(plan_.source, "MAX"));
  if (!last) {
    return std::nullopt;
  }
  const std::string low =
      after ? after->front().text
            : integer_before(main.query_value(key_bound_sql(plan_.source, "MIN")).value_or("0"));
  const std::optional<std::string> end = integer_chunk_end(low, *last, rows);
  if (!end) {
    return std::nullopt;
  }
  return Row{replication::Value{replication::ValueKind::number, *end}};
}

void MysqlCopy::check_copy_warnings() {
  Connection& main = sessions_.main();
  if (main.warning_count() == 0) {
    return;
  }
  // IGNORE turns conversion errors into warnings too; only duplicate keys are expected (a row
  // the applier wrote from a later image), anything else would change data.
  for (const ResultRow& warning : main.query("SHOW WARNINGS")) {
    if (warning.size() >= 3 && warning[1].value_or("") != std::to_string(ER_DUP_ENTRY)) {
      throw Error(ExitCode::preflight_failed,
                  "copying would change data (" + warning[2].value_or("") +
                      "); the ALTER narrows or converts a column so that existing values do "
                      "not fit; widen the new column or fix those rows first");
    }
  }
}

std::uint64_t MysqlCopy::copy_range(const std::optional<Row>& after, const Row& up_to) {
  const std::string sql = copy_statement(plan_, range_predicate(plan_.source, after, up_to));
  // INSERT IGNORE of a key range is safe to redo: a chunk that committed before its session was
  // lost copies nothing twice. A statement that lost a row lock changed nothing and is retried.
  return sessions_.reconnecting("copying a chunk", [&] {
    const std::uint64_t copied = retry_lock_waits("a copy chunk", row_lock_policy(),
                                                  [&] { return sessions_.main().execute(sql); });
    check_copy_warnings();
    return copied;
  });
}

void MysqlCopy::recopy(const Mismatch& range) {
  const std::string where = range_predicate(plan_.source, range.after, range.up_to);
  sessions_.reconnecting("re-copying a range", [&] {
    return retry_lock_waits("re-copying a range", row_lock_policy(), [&] {
      Connection& main = sessions_.main();
      Transaction transaction(main, "START TRANSACTION");
      main.execute(delete_range_sql(plan_, where));
      const std::uint64_t copied = main.execute(copy_statement(plan_, where));
      check_copy_warnings();
      transaction.commit();
      return copied;
    });
  });
}

}  // namespace sluice::mysql

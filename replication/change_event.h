#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::replication {

// How a value must be bound when it is written back to a server. `text` holds the value in the
// form named by the kind; both change streams (binlog and pgoutput) produce this one shape so
// the engine applies changes without knowing where they came from.
enum class ValueKind {
  null,       // SQL NULL; `text` is empty
  unchanged,  // PostgreSQL unchanged TOAST datum: the value did not change and was not sent
  number,     // integer, decimal or floating point in its exact decimal text ("-12", "1234.567")
  text,       // character data, in the column's own character set, unescaped
  binary,     // raw bytes (BINARY, VARBINARY, BLOB, BIT as bytes, GEOMETRY)
  temporal,   // date/time in ISO form ("2024-05-01 10:11:12.123456"); TIMESTAMP in UTC
  json,       // JSON document text
};

struct Value {
  ValueKind kind = ValueKind::null;
  std::string text;

  bool operator==(const Value&) const = default;
};

using Row = std::vector<Value>;

// `truncate` empties the whole table (PostgreSQL TRUNCATE): it carries no keys or images, and a
// migration must refuse it rather than apply it row by row. `schema_change` is DDL that may
// have changed the table (a binlog QUERY event, see replication/mysql/ddl_statement.h): it
// carries the statement instead of rows, and a migration must stop on it (docs/safety.md).
enum class Operation { insert, update, erase, truncate, schema_change };

// Where a change sits in the server's change log. `file` and `offset` are a binlog coordinate
// (MySQL/MariaDB; `gtid` when known); `lsn` is a PostgreSQL log sequence number. Exactly one
// family is set.
struct Position {
  std::string file;
  std::uint64_t offset = 0;
  std::string gtid;
  std::uint64_t lsn = 0;

  bool operator==(const Position&) const = default;
};

// Human form: "bin.000003:1234" (with " gtid 0-1-7" when known) or "0/16B3748".
std::string to_string(const Position& position);

// Orders two positions of the same change log: <0, 0, >0. Binlog files compare by the number
// after their last dot (bin.999999 < bin.1000000), then by offset; LSNs numerically.
int compare_positions(const Position& a, const Position& b);

struct Column {
  std::string name;
  std::string type;  // the server's type name as decoded ("int unsigned", "varchar", "int4")

  bool operator==(const Column&) const = default;
};

// The shape of a table as the change stream last described it. Shared by every event decoded
// under the same description.
struct TableDescription {
  std::string schema;
  std::string table;
  std::vector<Column> columns;
  std::vector<std::size_t> key_columns;  // indexes into `columns`, in key order
};

// One row change of a committed transaction.
struct ChangeEvent {
  std::shared_ptr<const TableDescription> table;
  Operation operation = Operation::insert;
  Row key_before;             // update and delete: the key of the row before the change
  Row key_after;              // insert and update: the key after the change
  std::optional<Row> before;  // full before image when the stream carries one
  std::optional<Row> after;   // full after image (insert, update)
  Position position;          // commit position of the transaction holding the change
  std::string statement;      // schema_change: the statement as the server logged it
};

// The changes of one committed source transaction, in commit order. A transaction with no
// changes reports that the stream has read up to `commit_position` (heartbeats, other tables).
struct Transaction {
  std::vector<ChangeEvent> changes;
  Position commit_position;
  std::chrono::system_clock::time_point commit_time;
};

// One line per row change, as `sluice stream` prints it:
// "update shop.orders key (7) -> (8) before (7, 'a') after (8, 'b') at bin.000003:1234";
// a truncate has no key: "truncate shop.orders at 0/16B3748"; a schema change shows its statement:
// "schema change shop.orders: ALTER TABLE orders ADD x INT at bin.000003:1234".
std::string format_change(const ChangeEvent& change);

// A value as it would appear in that line: NULL, numbers bare, everything else single-quoted
// with quotes and control bytes escaped; binary as 0x hex; unchanged TOAST as <unchanged>.
std::string format_value(const Value& value);

}  // namespace sluice::replication

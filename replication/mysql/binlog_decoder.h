#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "replication/change_event.h"
#include "replication/mysql/binlog_event.h"
#include "replication/mysql/table_map.h"

namespace sluice::replication::mysql {

// One table the caller wants changes of. Names are compared exactly, as MySQL stores them.
struct TableSelector {
  std::string schema;
  std::string table;
  // The columns forming the row identity, in key order. Empty: the primary key the table map
  // announces (binlog_row_metadata=FULL); with neither, every column.
  std::vector<std::string> key_columns;
};

struct DecoderOptions {
  // Only these tables are decoded; rows events of every other table are skipped unread. Empty
  // means every table.
  std::vector<TableSelector> tables;
  // Full before/after images in each ChangeEvent. Off: only the key tuples are decoded and the
  // other columns skipped, for consumers that only track which keys changed (applying a
  // change always needs the full image).
  bool full_images = true;
};

// Turns a sequence of binlog events (as read from a dump connection or a binlog file) into
// committed transactions. Pure: no I/O, no clock. Feed events in order, starting with a
// FORMAT_DESCRIPTION (a dump connection and a binlog file both start with one).
//
// Transactions are delivered at their commit (XID event, or a COMMIT query for non-transactional
// tables); ROLLBACK discards them; a statement outside BEGIN/COMMIT (DDL) is a transaction of
// its own, holding one Operation::schema_change per selected table the statement may change
// (ddl_statement.h) and else empty, reporting progress as a heartbeat between transactions
// does. With no tables selected, DDL is never reported.
class BinlogDecoder {
 public:
  explicit BinlogDecoder(DecoderOptions options);

  // Decodes one event: the 19-byte header, the body and the CRC32 when the format description
  // announced one (the 0x00 status byte of the network packet removed). Returns the transaction
  // this event commits (a MySQL compressed transaction payload is unpacked and decoded whole).
  // Throws StreamError for malformed events; for partial JSON updates, MariaDB compressed rows
  // events and XA transactions of a selected table; and for rows events whose table map is
  // missing.
  std::optional<Transaction> feed(std::span<const std::uint8_t> event);

  // Where the next event starts in the binlog (file and offset of the last event's end).
  const Position& read_position() const { return read_position_; }
  // The end of the last transaction delivered: reading again from here neither repeats nor
  // skips a transaction.
  const Position& resume_position() const { return resume_position_; }
  // Sets where the first events come from, until a ROTATE names a file, and whether events
  // carry a CRC32 until a FORMAT_DESCRIPTION says (the ROTATE a dump starts with precedes it).
  void start_at(const Position& position, bool checksum);
  // Drops a partly read transaction, e.g. when the connection broke in its middle.
  void discard_partial_transaction();

  bool in_transaction() const { return in_transaction_; }
  // A binlog file has ended and no event of the next one has arrived yet: the last positioned
  // event was a ROTATE written into the file (FLUSH BINARY LOGS, max_binlog_size) or a STOP
  // (the server shut down; it goes on in the next file after its restart). Heartbeats and
  // artificial events in between do not end the switch. The read position is then the start
  // of the next file.
  bool file_switched() const { return file_switched_; }
  // Row changes decoded for selected tables so far.
  std::uint64_t rows_decoded() const { return rows_decoded_; }

 private:
  struct MappedTable {
    std::vector<std::uint8_t> raw;  // the TABLE_MAP body, to recognise an unchanged re-map
    TableMap map;
    std::shared_ptr<const TableDescription> description;
    std::vector<char> key_wanted;  // per column: part of the key
  };

  std::optional<Transaction> feed_event(std::span<const std::uint8_t> event, bool inner);
  const TableSelector* select(std::string_view schema, std::string_view table) const;
  void on_table_map(std::span<const std::uint8_t> body);
  void on_rows(const EventHeader& header, std::span<const std::uint8_t> body);
  void on_statement(const Query& query);
  std::optional<Transaction> commit(const EventHeader& header);
  void begin(std::string gtid, bool opens_transaction);

  DecoderOptions options_;
  FormatDescription format_;
  Position read_position_;
  Position resume_position_;
  std::unordered_map<std::uint64_t, std::shared_ptr<MappedTable>> tables_;
  bool in_transaction_ = false;
  bool standalone_ = false;
  bool file_switched_ = false;
  std::string gtid_;
  std::vector<ChangeEvent> changes_;
  Row before_scratch_;
  Row after_scratch_;
  std::uint64_t rows_decoded_ = 0;
};

// "bin.000009" -> "bin.000010": the file a server writes after this one.
std::string next_binlog_file(const std::string& file);

}  // namespace sluice::replication::mysql

#include "replication/mysql/binlog_decoder.h"

#include <zstd.h>

#include <algorithm>
#include <chrono>

#include "replication/mysql/byte_reader.h"
#include "replication/mysql/ddl_statement.h"
#include "replication/mysql/row_image.h"
#include "replication/stream_error.h"

namespace sluice::replication::mysql {
namespace {

constexpr std::size_t kMaxRememberedTables = 4096;

bool is_rows_event(std::uint8_t type) {
  return (type >= kWriteRowsEventV1 && type <= kDeleteRowsEventV1) ||
         (type >= kWriteRowsEventV2 && type <= kDeleteRowsEventV2);
}

bool is_update(std::uint8_t type) {
  return type == kUpdateRowsEventV1 || type == kUpdateRowsEventV2;
}

bool is_delete(std::uint8_t type) {
  return type == kDeleteRowsEventV1 || type == kDeleteRowsEventV2;
}

std::string qualified(std::string_view schema, std::string_view table) {
  return std::string(schema) + "." + std::string(table);
}

// MySQL's binlog_transaction_compression: one TRANSACTION_PAYLOAD event holds a whole
// transaction's events, zstd-compressed, after a header of (type, length, value) fields.
std::vector<std::uint8_t> transaction_payload(std::span<const std::uint8_t> body) {
  enum Field : std::uint64_t {
    kEnd = 0,
    kPayloadSize = 1,
    kCompression = 2,
    kUncompressedSize = 3
  };
  constexpr std::uint64_t kZstd = 0;
  constexpr std::uint64_t kNone = 255;
  constexpr std::uint64_t kMaxUncompressed = 1ULL << 32;
  ByteReader reader(body.data(), body.size());
  std::uint64_t compression = kNone;
  std::uint64_t payload_size = reader.remaining();
  std::uint64_t uncompressed_size = 0;
  for (;;) {
    const std::uint64_t type = reader.packed("transaction payload header");
    if (type == kEnd) {
      break;
    }
    const std::uint64_t length = reader.packed("transaction payload header");
    ByteReader field(reader.current(), length);
    reader.skip(length, "transaction payload header");
    const std::uint64_t value = field.packed("transaction payload header");
    if (type == kPayloadSize) {
      payload_size = value;
    } else if (type == kCompression) {
      compression = value;
    } else if (type == kUncompressedSize) {
      uncompressed_size = value;
    }
  }
  const std::string_view payload = reader.bytes(payload_size, "transaction payload");
  if (compression == kNone) {
    return std::vector<std::uint8_t>(payload.begin(), payload.end());
  }
  if (compression != kZstd) {
    throw StreamError("the binlog holds a transaction compressed with algorithm " +
                      std::to_string(compression) + "; only zstd is supported");
  }
  if (uncompressed_size == 0 || uncompressed_size > kMaxUncompressed) {
    throw StreamError("compressed binlog transaction announces an unusable size of " +
                      std::to_string(uncompressed_size) + " bytes");
  }
  std::vector<std::uint8_t> events(uncompressed_size);
  const std::size_t written =
      ZSTD_decompress(events.data(), events.size(), payload.data(), payload.size());
  if (ZSTD_isError(written) || written != events.size()) {
    throw StreamError("compressed binlog transaction does not decompress: " +
                      std::string(ZSTD_isError(written) ? ZSTD_getErrorName(written)
                                                        : "size differs from its header"));
  }
  return events;
}

Row pick(const Row& row, const std::vector<std::size_t>& columns) {
  Row key;
  key.reserve(columns.size());
  for (std::size_t index : columns) {
    key.push_back(row[index]);
  }
  return key;
}

}  // namespace

std::string next_binlog_file(const std::string& file) {
  const std::size_t dot = file.rfind('.');
  const std::string digits = dot == std::string::npos ? "" : file.substr(dot + 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
    throw StreamError("binlog file name " + file + " does not end in a sequence number");
  }
  std::string next = std::to_string(std::stoull(digits) + 1);
  if (next.size() < digits.size()) {
    next.insert(0, digits.size() - next.size(), '0');
  }
  return file.substr(0, dot + 1) + next;
}

BinlogDecoder::BinlogDecoder(DecoderOptions options) : options_(std::move(options)) {}

void BinlogDecoder::start_at(const Position& position, bool checksum) {
  read_position_ = position;
  resume_position_ = position;
  format_.checksum = checksum;
  file_switched_ = false;
}

void BinlogDecoder::discard_partial_transaction() {
  in_transaction_ = false;
  standalone_ = false;
  gtid_.clear();
  changes_.clear();
}

const TableSelector* BinlogDecoder::select(std::string_view schema, std::string_view table) const {
  for (const TableSelector& selector : options_.tables) {
    if (selector.schema == schema && selector.table == table) {
      return &selector;
    }
  }
  return nullptr;
}

std::optional<Transaction> BinlogDecoder::feed(std::span<const std::uint8_t> event) {
  return feed_event(event, false);
}

std::optional<Transaction> BinlogDecoder::feed_event(std::span<const std::uint8_t> event,
                                                     bool inner) {
  const EventHeader header = parse_header(event);
  // Events not in the file (the artificial ROTATE and FORMAT_DESCRIPTION a dump starts with)
  // have no position; a ROTATE's own position belongs to the file it ends; the events inside a
  // compressed transaction share the position of the event that holds them.
  // A heartbeat carries the position of the file it names, which after a ROTATE can still be
  // the file the ROTATE ended; it is placed by its own case below.
  if (!inner && header.type != kRotateEvent && header.type != kHeartbeatEvent &&
      header.next_position != 0 && (header.flags & kArtificialEventFlag) == 0) {
    read_position_.offset = header.next_position;
    // An event of the new file: the switch is over.
    file_switched_ = false;
  }
  if (header.type == kFormatDescriptionEvent) {
    format_ = parse_format_description(event);
    return std::nullopt;
  }
  // MySQL writes no checksums on the events inside a compressed transaction.
  const bool checksum = format_.checksum && !inner;
  const std::size_t trailer = checksum ? kChecksumSize : 0;
  if (header.event_size < kEventHeaderSize + trailer) {
    throw StreamError("binlog event of type " + std::to_string(header.type) +
                      " is shorter than its header and checksum");
  }
  const std::span<const std::uint8_t> body =
      event.subspan(kEventHeaderSize, header.event_size - kEventHeaderSize - trailer);
  switch (header.type) {
    case kRotateEvent: {
      const Rotate rotate = parse_rotate(event, checksum);
      read_position_.file = rotate.file;
      read_position_.offset = rotate.position;
      if (!in_transaction_) {
        resume_position_.file = rotate.file;
        resume_position_.offset = rotate.position;
      }
      if (header.next_position != 0 && (header.flags & kArtificialEventFlag) == 0) {
        file_switched_ = true;
      }
      return std::nullopt;
    }
    case kMariadbGtidEvent: {
      // MariaDB's GTID event stands in for BEGIN, unless the statement is standalone (DDL).
      const Gtid gtid = parse_mariadb_gtid(event);
      begin(gtid.text, true);
      standalone_ = gtid.standalone;
      return std::nullopt;
    }
    case kMysqlGtidEvent:
      // MySQL follows its GTID event with a BEGIN query, or with the DDL statement alone.
      begin(parse_mysql_gtid(event).text, false);
      return std::nullopt;
    case kMysqlAnonymousGtidEvent:
      begin("", false);
      return std::nullopt;
    case kQueryEvent: {
      const Query query = parse_query(event, checksum);
      if (query.text == "BEGIN") {
        in_transaction_ = true;
      } else if (query.text == "ROLLBACK") {
        discard_partial_transaction();
      } else if (query.text == "COMMIT") {
        return commit(header);
      } else if (!in_transaction_ || standalone_) {
        on_statement(query);
        return commit(header);
      }
      return std::nullopt;
    }
    case kXidEvent:
      return commit(header);
    case kStopEvent:
      // The server stopped; after its restart the binlog goes on in the next file (a dump
      // would announce that with a ROTATE that libmariadb fails to parse).
      if (!in_transaction_) {
        read_position_ = Position{next_binlog_file(read_position_.file), 4, "", 0};
        resume_position_.file = read_position_.file;
        resume_position_.offset = read_position_.offset;
        file_switched_ = true;
      }
      return std::nullopt;
    case kTableMapEvent:
      on_table_map(body);
      return std::nullopt;
    case kMysqlXaPrepareEvent:
      // The changes commit later, by an XA COMMIT in another part of the binlog.
      if (!changes_.empty()) {
        throw StreamError("an XA transaction changed " + changes_.front().table->schema + "." +
                          changes_.front().table->table +
                          "; sluice does not follow XA transactions");
      }
      discard_partial_transaction();
      return std::nullopt;
    case kMysqlTransactionPayloadEvent: {
      if (inner) {
        throw StreamError("binlog holds a compressed transaction inside another one");
      }
      const std::vector<std::uint8_t> events = transaction_payload(body);
      std::optional<Transaction> done;
      for (std::size_t at = 0; at < events.size();) {
        const std::span<const std::uint8_t> rest(events.data() + at, events.size() - at);
        const EventHeader inner_header = parse_header(rest);
        if (auto transaction = feed_event(rest.first(inner_header.event_size), true)) {
          done = std::move(transaction);
        }
        at += inner_header.event_size;
      }
      return done;
    }
    case kHeartbeatEvent:
      // Reports that nothing is pending between transactions. Its own position is not used:
      // after a ROTATE it can still name the file the ROTATE ended, and every event up to the
      // end of the binlog reaches the stream anyway, so the end of the last event read is the
      // one position a drain can trust.
      if (in_transaction_) {
        return std::nullopt;
      }
      resume_position_.file = read_position_.file;
      resume_position_.offset = read_position_.offset;
      return Transaction{{}, resume_position_, std::chrono::system_clock::time_point()};
    default:
      if (is_rows_event(header.type) || header.type == kMysqlPartialUpdateRowsEvent ||
          (header.type >= kMariadbFirstCompressedRowsEvent &&
           header.type <= kMariadbLastCompressedRowsEvent)) {
        on_rows(header, body);
      }
      return std::nullopt;
  }
}

void BinlogDecoder::on_statement(const Query& query) {
  // DDL is not replicated as rows: report it, so that a migration of the table stops instead of
  // cutting over to a table that lacks the change (docs/safety.md).
  for (const TableSelector& selector : options_.tables) {
    if (ddl_names_table(query.text, query.schema, selector.schema, selector.table)) {
      auto description = std::make_shared<TableDescription>();
      description->schema = selector.schema;
      description->table = selector.table;
      ChangeEvent change;
      change.table = std::move(description);
      change.operation = Operation::schema_change;
      change.statement = query.text;
      changes_.push_back(std::move(change));
    }
  }
}

void BinlogDecoder::begin(std::string gtid, bool opens_transaction) {
  changes_.clear();
  // Every transaction repeats the table maps it uses, so forgetting them between transactions
  // is safe; it bounds the memory of a long stream over ever new table ids.
  if (tables_.size() > kMaxRememberedTables) {
    tables_.clear();
  }
  in_transaction_ = opens_transaction;
  standalone_ = false;
  gtid_ = std::move(gtid);
}

std::optional<Transaction> BinlogDecoder::commit(const EventHeader& header) {
  Transaction transaction;
  transaction.commit_position = read_position_;
  transaction.commit_position.gtid = gtid_.empty() ? resume_position_.gtid : gtid_;
  transaction.commit_time =
      std::chrono::system_clock::time_point(std::chrono::seconds(header.timestamp));
  for (ChangeEvent& change : changes_) {
    change.position = transaction.commit_position;
  }
  transaction.changes = std::move(changes_);
  changes_.clear();
  in_transaction_ = false;
  standalone_ = false;
  gtid_.clear();
  resume_position_ = transaction.commit_position;
  return transaction;
}

void BinlogDecoder::on_table_map(std::span<const std::uint8_t> body) {
  const std::uint8_t post_header = format_.post_header_lengths[kTableMapEvent];
  const TableName name = peek_table_map(body, post_header);
  const TableSelector* selector = nullptr;
  if (!options_.tables.empty()) {
    selector = select(name.schema, name.table);
    if (!selector) {
      tables_[name.table_id] = nullptr;
      return;
    }
  }
  auto& slot = tables_[name.table_id];
  if (slot && std::equal(slot->raw.begin(), slot->raw.end(), body.begin(), body.end())) {
    return;
  }
  auto mapped = std::make_shared<MappedTable>();
  mapped->raw.assign(body.begin(), body.end());
  mapped->map = parse_table_map(body, post_header,
                                format_.server_version.find("MariaDB") != std::string::npos);
  std::vector<std::size_t> key = mapped->map.primary_key;
  if (selector && !selector->key_columns.empty()) {
    key.clear();
    for (const std::string& column : selector->key_columns) {
      auto found = std::find_if(mapped->map.columns.begin(), mapped->map.columns.end(),
                                [&](const ColumnInfo& c) { return c.name == column; });
      if (found == mapped->map.columns.end()) {
        throw StreamError("key column " + column + " is not in the binlog's description of " +
                          qualified(name.schema, name.table) +
                          " (column names need binlog_row_metadata=FULL)");
      }
      key.push_back(static_cast<std::size_t>(found - mapped->map.columns.begin()));
    }
  }
  mapped->description = mapped->map.describe(key);
  mapped->key_wanted.assign(mapped->map.columns.size(), 0);
  for (std::size_t index : mapped->description->key_columns) {
    mapped->key_wanted[index] = 1;
  }
  slot = std::move(mapped);
}

void BinlogDecoder::on_rows(const EventHeader& header, std::span<const std::uint8_t> body) {
  ByteReader reader(body.data(), body.size());
  const std::uint8_t post_header = format_.post_header_lengths[header.type];
  const std::uint64_t table_id = reader.uint(post_header == 6 ? 4 : 6, "rows event table id");
  const auto found = tables_.find(table_id);
  if (found == tables_.end()) {
    throw StreamError("rows event for table id " + std::to_string(table_id) +
                      " arrived without its table map; the stream must start at a transaction "
                      "boundary");
  }
  if (!found->second) {
    return;
  }
  const MappedTable& table = *found->second;
  const std::string name = qualified(table.map.schema, table.map.table);
  if (header.type == kMysqlPartialUpdateRowsEvent) {
    throw StreamError("the binlog holds a partial JSON update of " + name +
                      ", which carries no full after image; set binlog_row_value_options='' on "
                      "the server");
  }
  if (!is_rows_event(header.type)) {
    throw StreamError("the binlog holds compressed rows events for " + name +
                      ", which sluice cannot decode; set log_bin_compress=OFF on the server");
  }
  reader.skip(2, "rows event flags");
  if (header.type >= kWriteRowsEventV2) {
    const std::uint64_t extra = reader.uint(2, "rows event extra data");
    if (extra < 2) {
      throw StreamError("rows event of " + name + " has a malformed extra-data length");
    }
    reader.skip(extra - 2, "rows event extra data");
  }
  const std::uint64_t count = reader.packed("rows event column count");
  if (count != table.map.columns.size()) {
    throw StreamError("rows event of " + name + " has " + std::to_string(count) +
                      " columns but its table map has " + std::to_string(table.map.columns.size()));
  }
  const std::size_t bitmap_bytes = (count + 7) / 8;
  reader.need(bitmap_bytes, "columns-present bitmap");
  const std::uint8_t* present_before = reader.current();
  reader.skip(bitmap_bytes, "columns-present bitmap");
  const std::uint8_t* present_after = present_before;
  if (is_update(header.type)) {
    reader.need(bitmap_bytes, "columns-present bitmap");
    present_after = reader.current();
    reader.skip(bitmap_bytes, "columns-present bitmap");
  }
  const std::vector<char>* wanted = options_.full_images ? nullptr : &table.key_wanted;
  const std::vector<std::size_t>& key = table.description->key_columns;
  while (reader.remaining() > 0) {
    // A row image always takes bytes (at least its null bitmap); one that takes none (no
    // column present) would repeat until memory runs out.
    const std::size_t remaining_before = reader.remaining();
    ChangeEvent& change = changes_.emplace_back();
    change.table = table.description;
    if (is_update(header.type)) {
      change.operation = Operation::update;
      decode_row(table.map, present_before, reader, before_scratch_, wanted);
      decode_row(table.map, present_after, reader, after_scratch_, wanted);
      change.key_before = pick(before_scratch_, key);
      change.key_after = pick(after_scratch_, key);
      if (options_.full_images) {
        change.before = before_scratch_;
        change.after = after_scratch_;
      }
    } else if (is_delete(header.type)) {
      change.operation = Operation::erase;
      decode_row(table.map, present_before, reader, before_scratch_, wanted);
      change.key_before = pick(before_scratch_, key);
      if (options_.full_images) {
        change.before = before_scratch_;
      }
    } else {
      change.operation = Operation::insert;
      decode_row(table.map, present_before, reader, after_scratch_, wanted);
      change.key_after = pick(after_scratch_, key);
      if (options_.full_images) {
        change.after = after_scratch_;
      }
    }
    if (reader.remaining() == remaining_before) {
      throw StreamError("rows event of " + name + " holds a row image without any column");
    }
    ++rows_decoded_;
  }
}

}  // namespace sluice::replication::mysql

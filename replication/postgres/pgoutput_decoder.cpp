#include "replication/postgres/pgoutput_decoder.h"

#include <spdlog/spdlog.h>

#include <string>

#include "replication/stream_error.h"

namespace sluice::replication::postgres {
namespace {

// Seconds from the Unix epoch to the PostgreSQL epoch (2000-01-01).
constexpr std::int64_t kPostgresEpochSeconds = 946684800;

[[noreturn]] void malformed(const std::string& why) {
  throw StreamError("malformed pgoutput message: " + why);
}

// Reads the protocol's network-order integers and NUL-terminated strings, refusing to read past
// the end of the message.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(big_endian(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(big_endian(4)); }
  std::uint64_t u64() { return big_endian(8); }

  std::string cstring() {
    const std::size_t end = bytes_.find('\0', position_);
    if (end == std::string_view::npos) {
      malformed("a string is not terminated");
    }
    std::string out(bytes_.substr(position_, end - position_));
    position_ = end + 1;
    return out;
  }

  std::string_view take(std::size_t count) {
    if (bytes_.size() - position_ < count) {
      malformed("it ends after " + std::to_string(bytes_.size()) +
                " bytes, in the middle of a field");
    }
    std::string_view out = bytes_.substr(position_, count);
    position_ += count;
    return out;
  }

  bool at_end() const { return position_ == bytes_.size(); }

 private:
  std::uint64_t big_endian(std::size_t count) {
    std::uint64_t value = 0;
    for (unsigned char c : take(count)) {
      value = (value << 8) | c;
    }
    return value;
  }

  std::string_view bytes_;
  std::size_t position_ = 0;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

Row read_tuple(Reader& reader, const Relation& relation) {
  const std::size_t count = reader.u16();
  if (count != relation.kinds.size()) {
    malformed("a tuple of " + relation.table->schema + "." + relation.table->table + " has " +
              std::to_string(count) + " columns, its relation " +
              std::to_string(relation.kinds.size()));
  }
  Row row;
  row.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const char kind = static_cast<char>(reader.u8());
    switch (kind) {
      case 'n':
        row.push_back(Value{ValueKind::null, {}});
        break;
      case 'u':
        row.push_back(Value{ValueKind::unchanged, {}});
        break;
      case 't': {
        const std::string_view text = reader.take(reader.u32());
        if (relation.kinds[i] == ValueKind::binary) {
          row.push_back(Value{ValueKind::binary, decode_bytea_hex(text)});
        } else {
          row.push_back(Value{relation.kinds[i], std::string(text)});
        }
        break;
      }
      default:
        // 'b' (binary format) only comes when the client asks for it, which sluice never does.
        malformed(std::string("unknown tuple value kind '") + kind + "'");
    }
  }
  return row;
}

Row key_of(const Row& row, const TableDescription& table) {
  Row key;
  key.reserve(table.key_columns.size());
  for (std::size_t column : table.key_columns) {
    key.push_back(row[column]);
  }
  return key;
}

ChangeEvent make_event(const Relation& relation, Operation operation) {
  ChangeEvent event;
  event.table = relation.table;
  event.operation = operation;
  return event;
}

}  // namespace

std::string decode_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    malformed("a bytea value is not in hex format (bytea_output must be hex)");
  }
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    const int high = hex_digit(text[i]);
    const int low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) {
      malformed("a bytea value holds a non-hex digit");
    }
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

std::chrono::system_clock::time_point from_postgres_time(std::int64_t microseconds) {
  // The clock counts nanoseconds since 1970 in 64 bits (about 292 years either way); a commit
  // time beyond that is damage and would overflow the conversion.
  constexpr std::int64_t kLimit = std::int64_t{250} * 365 * 24 * 3600 * 1'000'000;
  if (microseconds > kLimit || microseconds < -kLimit) {
    throw StreamError("a pgoutput commit time of " + std::to_string(microseconds) +
                      " microseconds from 2000 is out of range");
  }
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(kPostgresEpochSeconds) + std::chrono::microseconds(microseconds)));
}

void PgOutputDecoder::require_transaction(char kind) const {
  if (!open_) {
    malformed(std::string("message '") + kind + "' arrived outside a transaction");
  }
}

std::optional<DecodedTransaction> PgOutputDecoder::feed(std::string_view message) {
  Reader reader(message);
  const char kind = static_cast<char>(reader.u8());
  switch (kind) {
    case 'B': {
      if (open_) {
        malformed("a Begin arrived inside a transaction");
      }
      OpenTransaction open;
      open.final_lsn = reader.u64();
      open.transaction.commit_time = from_postgres_time(static_cast<std::int64_t>(reader.u64()));
      reader.u32();  // xid
      open_ = std::move(open);
      break;
    }
    case 'C': {
      require_transaction(kind);
      reader.u8();  // flags, unused by the protocol
      const std::uint64_t commit_lsn = reader.u64();
      const std::uint64_t end_lsn = reader.u64();
      const auto commit_time = from_postgres_time(static_cast<std::int64_t>(reader.u64()));
      if (commit_lsn != open_->final_lsn) {
        malformed("a Commit does not match its Begin");
      }
      DecodedTransaction done{std::move(open_->transaction), end_lsn};
      open_.reset();
      done.transaction.commit_position.lsn = commit_lsn;
      done.transaction.commit_time = commit_time;
      for (ChangeEvent& change : done.transaction.changes) {
        change.position = done.transaction.commit_position;
      }
      return done;
    }
    case 'O':
      // Origin of a transaction replayed from elsewhere; its changes are real changes here too.
      reader.u64();
      spdlog::debug("pgoutput: transaction from origin '{}'", reader.cstring());
      break;
    case 'R': {
      const Oid oid = reader.u32();
      std::string schema = reader.cstring();
      std::string table = reader.cstring();
      const char identity = static_cast<char>(reader.u8());
      const std::size_t count = reader.u16();
      std::vector<RelationColumn> columns;
      columns.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        RelationColumn column;
        column.key = (reader.u8() & 1) != 0;
        column.name = reader.cstring();
        column.type = reader.u32();
        column.type_modifier = static_cast<std::int32_t>(reader.u32());
        columns.push_back(std::move(column));
      }
      relations_.add_relation(oid, std::move(schema), std::move(table), identity, columns);
      break;
    }
    case 'Y': {
      const Oid oid = reader.u32();
      std::string schema = reader.cstring();
      relations_.add_type(oid, std::move(schema), reader.cstring());
      break;
    }
    case 'I': {
      require_transaction(kind);
      const Relation& relation = relations_.get(reader.u32());
      if (reader.u8() != 'N') {
        malformed("an Insert has no new tuple");
      }
      ChangeEvent event = make_event(relation, Operation::insert);
      event.after = read_tuple(reader, relation);
      event.key_after = key_of(*event.after, *relation.table);
      open_->transaction.changes.push_back(std::move(event));
      break;
    }
    case 'U': {
      require_transaction(kind);
      const Relation& relation = relations_.get(reader.u32());
      ChangeEvent event = make_event(relation, Operation::update);
      char part = static_cast<char>(reader.u8());
      std::optional<Row> old_tuple;
      if (part == 'K' || part == 'O') {
        old_tuple = read_tuple(reader, relation);
        if (part == 'O') {
          event.before = old_tuple;
        }
        part = static_cast<char>(reader.u8());
      }
      if (part != 'N') {
        malformed("an Update has no new tuple");
      }
      event.after = read_tuple(reader, relation);
      event.key_after = key_of(*event.after, *relation.table);
      event.key_before = old_tuple ? key_of(*old_tuple, *relation.table) : event.key_after;
      // A key column whose TOASTed value did not change is not sent; the old key has it.
      for (std::size_t i = 0; i < event.key_after.size(); ++i) {
        if (event.key_after[i].kind == ValueKind::unchanged) {
          event.key_after[i] = event.key_before[i];
        }
      }
      open_->transaction.changes.push_back(std::move(event));
      break;
    }
    case 'D': {
      require_transaction(kind);
      const Relation& relation = relations_.get(reader.u32());
      const char part = static_cast<char>(reader.u8());
      if (part != 'K' && part != 'O') {
        malformed("a Delete has no old tuple");
      }
      ChangeEvent event = make_event(relation, Operation::erase);
      Row old_tuple = read_tuple(reader, relation);
      event.key_before = key_of(old_tuple, *relation.table);
      if (part == 'O') {
        event.before = std::move(old_tuple);
      }
      open_->transaction.changes.push_back(std::move(event));
      break;
    }
    case 'T': {
      require_transaction(kind);
      const std::size_t count = reader.u32();
      reader.u8();  // options: CASCADE, RESTART IDENTITY; the table is emptied either way
      for (std::size_t i = 0; i < count; ++i) {
        open_->transaction.changes.push_back(
            make_event(relations_.get(reader.u32()), Operation::truncate));
      }
      break;
    }
    case 'M': {
      const bool transactional = (reader.u8() & 1) != 0;
      reader.u64();  // lsn
      const std::string prefix = reader.cstring();
      reader.take(reader.u32());
      spdlog::debug("pgoutput: skipped {} logical decoding message '{}'",
                    transactional ? "a transactional" : "a", prefix);
      break;
    }
    default:
      malformed(std::string("unknown message kind '") + kind + "'");
  }
  if (!reader.at_end()) {
    malformed(std::string("message '") + kind + "' has trailing bytes");
  }
  return std::nullopt;
}

}  // namespace sluice::replication::postgres

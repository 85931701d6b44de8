#include "replication/change_event.h"

#include <cstdio>

namespace sluice::replication {
namespace {

constexpr const char* kHexDigits = "0123456789abcdef";

std::string quote_text(const std::string& text) {
  std::string out = "'";
  for (unsigned char c : text) {
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '\'';
  return out;
}

std::string hex(const std::string& bytes) {
  std::string out = "0x";
  for (unsigned char c : bytes) {
    out += kHexDigits[c >> 4];
    out += kHexDigits[c & 0xf];
  }
  return out;
}

std::string format_row(const Row& row) {
  std::string out = "(";
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += format_value(row[i]);
  }
  out += ')';
  return out;
}

const char* operation_name(Operation operation) {
  switch (operation) {
    case Operation::insert:
      return "insert";
    case Operation::update:
      return "update";
    case Operation::erase:
      return "delete";
    case Operation::truncate:
      return "truncate";
    case Operation::schema_change:
      return "schema change";
  }
  return "?";
}

}  // namespace

std::string to_string(const Position& position) {
  if (!position.file.empty()) {
    std::string out = position.file + ":" + std::to_string(position.offset);
    if (!position.gtid.empty()) {
      out += " gtid " + position.gtid;
    }
    return out;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%X/%X", static_cast<unsigned>(position.lsn >> 32),
                static_cast<unsigned>(position.lsn & 0xffffffffu));
  return buffer;
}

namespace {

std::uint64_t file_sequence(const std::string& file) {
  const std::size_t dot = file.rfind('.');
  std::uint64_t sequence = 0;
  for (std::size_t i = dot == std::string::npos ? 0 : dot + 1; i < file.size(); ++i) {
    if (file[i] >= '0' && file[i] <= '9') {
      sequence = sequence * 10 + static_cast<std::uint64_t>(file[i] - '0');
    }
  }
  return sequence;
}

int three_way(std::uint64_t a, std::uint64_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

}  // namespace

int compare_positions(const Position& a, const Position& b) {
  if (!a.file.empty() || !b.file.empty()) {
    if (int c = three_way(file_sequence(a.file), file_sequence(b.file)); c != 0) {
      return c;
    }
    return three_way(a.offset, b.offset);
  }
  return three_way(a.lsn, b.lsn);
}

std::string format_value(const Value& value) {
  switch (value.kind) {
    case ValueKind::null:
      return "NULL";
    case ValueKind::unchanged:
      return "<unchanged>";
    case ValueKind::number:
      return value.text;
    case ValueKind::binary:
      return hex(value.text);
    case ValueKind::text:
    case ValueKind::temporal:
    case ValueKind::json:
      return quote_text(value.text);
  }
  return "?";
}

std::string format_change(const ChangeEvent& change) {
  std::string out = operation_name(change.operation);
  out += ' ';
  if (change.table) {
    out += change.table->schema + "." + change.table->table;
  }
  if (change.operation == Operation::truncate) {
    return out + " at " + to_string(change.position);
  }
  if (change.operation == Operation::schema_change) {
    return out + ": " + change.statement + " at " + to_string(change.position);
  }
  out += " key ";
  switch (change.operation) {
    case Operation::insert:
      out += format_row(change.key_after);
      break;
    case Operation::erase:
      out += format_row(change.key_before);
      break;
    case Operation::update:
      out += format_row(change.key_before);
      if (change.key_before != change.key_after) {
        out += " -> " + format_row(change.key_after);
      }
      break;
    case Operation::truncate:
    case Operation::schema_change:
      break;
  }
  if (change.before) {
    out += " before " + format_row(*change.before);
  }
  if (change.after) {
    out += " after " + format_row(*change.after);
  }
  out += " at " + to_string(change.position);
  return out;
}

}  // namespace sluice::replication

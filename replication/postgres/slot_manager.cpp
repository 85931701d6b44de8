#include "replication/postgres/slot_manager.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>

#include "replication/stream_error.h"

namespace sluice::replication::postgres {
namespace {

constexpr std::size_t kMaxNameLength = 56;  // "sluice_" + 56 = 63, the server's NAMEDATALEN - 1

std::string quote(std::string_view identifier) {
  return ddl::quote_identifier(ddl::Dialect::postgres, identifier);
}

std::string display(const ddl::QualifiedName& table) {
  return table.schema + "." + table.name;
}

void check_publishable(Session& session, const ddl::QualifiedName& table) {
  const std::vector<SessionRow> rows = session.query(
      "SELECT c.relkind, c.relreplident, "
      "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
      "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2",
      {table.schema, table.name});
  if (rows.empty()) {
    throw StreamError("table " + display(table) + " does not exist");
  }
  const SessionRow& row = rows.front();
  if (row[0] != "r" && row[0] != "p") {
    throw StreamError(display(table) + " is not a table; only tables can be streamed");
  }
  const std::string identity = row[1].value_or("");
  const bool has_primary_key = row[2] == "t";
  const bool has_identity_index = row[3] == "t";
  const bool usable = identity == "f" || (identity == "d" && has_primary_key) ||
                      (identity == "i" && has_identity_index);
  if (!usable) {
    throw StreamError("table " + display(table) +
                      " has no replica identity, and publishing it would make the "
                      "application's UPDATE and DELETE statements fail; add a primary key or "
                      "set REPLICA IDENTITY USING INDEX (a unique index on NOT NULL columns) "
                      "or REPLICA IDENTITY FULL");
  }
}

}  // namespace

std::string sluice_object_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    throw StreamError("a stream name must have 1 to 56 characters, not " +
                      std::to_string(name.size()));
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      throw StreamError("the stream name '" + std::string(name) +
                        "' may hold only lower-case letters, digits and '_', as slot names do");
    }
  }
  return "sluice_" + std::string(name);
}

std::uint64_t parse_lsn(std::string_view text) {
  const std::size_t slash = text.find('/');
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  if (slash != std::string_view::npos) {
    const char* end = text.data() + text.size();
    auto [high_end, high_error] = std::from_chars(text.data(), text.data() + slash, high, 16);
    auto [low_end, low_error] = std::from_chars(text.data() + slash + 1, end, low, 16);
    if (high_error == std::errc() && low_error == std::errc() && slash > 0 &&
        high_end == text.data() + slash && low_end == end && slash + 1 < text.size()) {
      return (std::uint64_t{high} << 32) | low;
    }
  }
  throw StreamError("'" + std::string(text) + "' is not an LSN");
}

std::string format_lsn(std::uint64_t lsn) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buffer;
}

Publication::Publication(const ConnectionParams& params, std::string_view name,
                         const std::vector<ddl::QualifiedName>& tables)
    : params_(params), name_(sluice_object_name(name)) {
  if (tables.empty()) {
    throw StreamError("a publication needs at least one table");
  }
  Session session(params_, Session::Mode::sql);
  std::string list;
  for (const ddl::QualifiedName& table : tables) {
    check_publishable(session, table);
    list += (list.empty() ? "" : ", ") + ddl::quote_qualified(ddl::Dialect::postgres, table);
  }
  session.query("CREATE PUBLICATION " + quote(name_) + " FOR TABLE " + list);
  spdlog::debug("created publication {}", name_);
}

Publication::~Publication() {
  if (!owned_) {
    return;
  }
  try {
    drop_publication(params_, name_);
  } catch (const std::exception& error) {
    spdlog::warn("could not drop publication {}: {}; drop it with DROP PUBLICATION {}", name_,
                 error.what(), name_);
  }
}

ReplicationSlot::ReplicationSlot(const ConnectionParams& params, std::string_view name,
                                 bool export_snapshot)
    : params_(params), name_(sluice_object_name(name)) {
  auto session = std::make_unique<Session>(params_, Session::Mode::replication);
  const std::vector<SessionRow> rows =
      session->query("CREATE_REPLICATION_SLOT " + quote(name_) + " LOGICAL pgoutput (SNAPSHOT '" +
                     (export_snapshot ? "export" : "nothing") + "')");
  if (rows.size() != 1 || rows.front().size() < 3 || !rows.front()[1]) {
    throw StreamError("CREATE_REPLICATION_SLOT returned no consistent point");
  }
  consistent_point_ = parse_lsn(*rows.front()[1]);
  if (export_snapshot) {
    snapshot_name_ = rows.front()[2];
    snapshot_session_ = std::move(session);
  }
  spdlog::debug("created replication slot {} at {}", name_, format_lsn(consistent_point_));
}

ReplicationSlot::~ReplicationSlot() {
  release_snapshot();
  if (!owned_) {
    return;
  }
  try {
    drop_slot(params_, name_);
  } catch (const std::exception& error) {
    spdlog::warn(
        "could not drop replication slot {}: {}; it keeps WAL until dropped with "
        "SELECT pg_drop_replication_slot('{}')",
        name_, error.what(), name_);
  }
}

void ReplicationSlot::release_snapshot() {
  snapshot_session_.reset();
  snapshot_name_.reset();
}

std::vector<SlotStatus> list_sluice_slots(const ConnectionParams& params,
                                          std::uint64_t warn_bytes) {
  Session session(params, Session::Mode::sql);
  const std::vector<SessionRow> rows = session.query(
      "SELECT slot_name, coalesce(database, ''), active, temporary, coalesce(wal_status, ''), "
      "coalesce(confirmed_flush_lsn::text, ''), "
      "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint "
      "FROM pg_replication_slots WHERE slot_name LIKE 'sluice\\_%' ORDER BY slot_name");
  std::vector<SlotStatus> slots;
  for (const SessionRow& row : rows) {
    SlotStatus slot;
    slot.name = row[0].value_or("");
    slot.database = row[1].value_or("");
    slot.active = row[2] == "t";
    slot.temporary = row[3] == "t";
    slot.wal_status = row[4].value_or("");
    slot.confirmed_flush = row[5] && !row[5]->empty() ? parse_lsn(*row[5]) : 0;
    slot.retained_bytes = std::stoull(row[6].value_or("0"));
    if (slot.retained_bytes > warn_bytes) {
      spdlog::warn(
          "replication slot {} retains {} MB of WAL{}; if no sluice run uses it any "
          "more, drop it with SELECT pg_drop_replication_slot('{}')",
          slot.name, slot.retained_bytes >> 20, slot.active ? "" : " and is inactive", slot.name);
    }
    slots.push_back(std::move(slot));
  }
  return slots;
}

std::vector<std::string> list_sluice_publications(const ConnectionParams& params) {
  Session session(params, Session::Mode::sql);
  std::vector<std::string> names;
  for (const SessionRow& row : session.query(
           "SELECT pubname FROM pg_publication WHERE pubname LIKE 'sluice\\_%' ORDER BY 1")) {
    names.push_back(row[0].value_or(""));
  }
  return names;
}

void drop_slot(const ConnectionParams& params, const std::string& slot_name) {
  Session session(params, Session::Mode::replication);
  session.query("DROP_REPLICATION_SLOT " + quote(slot_name) + " WAIT");
  spdlog::debug("dropped replication slot {}", slot_name);
}

void drop_publication(const ConnectionParams& params, const std::string& publication_name) {
  Session session(params, Session::Mode::sql);
  session.query("DROP PUBLICATION IF EXISTS " + quote(publication_name));
  spdlog::debug("dropped publication {}", publication_name);
}

}  // namespace sluice::replication::postgres

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "src/checkpoint.h"
#include "src/error.h"
#include "src/migration_spec.h"
#include "src/phase_store.h"
#include "src/postgres/pg_slots.h"
#include "src/run_recorder.h"
#include "src/server_family.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

// Until when (UTC, as the phase metadata prints times) `sluice revert` may undo `record`: a
// switched sluice alter run with a revert point; nullopt for any other.
std::optional<std::string> revertible_until(const MigrationRecord& record) {
  const auto switched = record.entered.find(Phase::switched);
  if (record.phase != Phase::switched || switched == record.entered.end() ||
      record.checkpoint.empty() || is_phased_spec(record.spec) ||
      !checkpoint_from_json(record.checkpoint).revert_point) {
    return std::nullopt;
  }
  RebuildOptions options;
  read_rebuild_spec(record, options);
  std::tm at{};
  if (strptime(switched->second.c_str(), "%Y-%m-%d %H:%M:%S", &at) == nullptr) {
    return std::nullopt;
  }
  const std::time_t until = timegm(&at) + options.revert_window.count();
  std::tm utc{};
  gmtime_r(&until, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &utc);
  return std::string(text);
}

// What keeps a revertible PostgreSQL run revertible: its reverse slot, which retains WAL.
using ReverseSlot = std::optional<replication::postgres::SlotStatus>;

ReverseSlot reverse_slot_of(const Dsn& dsn, const std::optional<std::string>& password,
                            const MigrationRecord& record) {
  if (dsn.kind != ServerKind::postgres || !revertible_until(record)) {
    return std::nullopt;
  }
  const std::string name = checkpoint_from_json(record.checkpoint).reverse_slot;
  return name.empty() ? std::nullopt : postgres::find_slot(dsn, password, name);
}

// Why `sluice revert` cannot undo `record`, a switched sluice alter run that kept its old table,
// in one sentence; nullopt when it can, and for any other record.
std::optional<std::string> not_revertible(const MigrationRecord& record, ServerKind kind,
                                          const ReverseSlot& slot) {
  const nlohmann::json spec = nlohmann::json::parse(record.spec, nullptr, false);
  if (record.phase != Phase::switched || is_phased_spec(record.spec) || !spec.is_object() ||
      spec.value("old_table", std::string()).empty()) {
    return std::nullopt;
  }
  if (!revertible_until(record)) {
    return kind == ServerKind::postgres && !spec.value("revertible", false)
               ? "it ran without --revertible, and on PostgreSQL only such runs keep the reverse "
                 "replication slot a revert reads"
               : "no change-log position was recorded after its swap";
  }
  if (kind == ServerKind::postgres && !slot) {
    return "its reverse replication slot is gone";
  }
  return std::nullopt;
}

nlohmann::json to_json(const MigrationRecord& record, const ReverseSlot& slot,
                       const std::optional<std::string>& why_not) {
  nlohmann::json entered = nlohmann::json::object();
  for (const auto& [phase, at] : record.entered) {
    entered[std::string(phase_name(phase))] = at;
  }
  nlohmann::json out = {{"name", record.name},
                        {"table", record.table},
                        {"operation", record.operation},
                        {"phase", std::string(phase_name(record.phase))},
                        {"entered", entered},
                        {"grace_seconds", record.grace_seconds},
                        {"owner", record.owner},
                        {"lease_until", record.lease_until},
                        {"lease_alive", record.lease_alive}};
  out["spec"] = nlohmann::json::parse(record.spec, nullptr, false);
  if (out["spec"].is_discarded()) {
    out["spec"] = record.spec;
  }
  if (!record.checkpoint.empty()) {
    out["checkpoint"] = nlohmann::json::parse(record.checkpoint, nullptr, false);
  }
  if (!record.error.empty()) {
    out["error"] = record.error;
  }
  if (const std::optional<std::string> until = revertible_until(record)) {
    out["revertible_until"] = *until;
  }
  if (why_not) {
    out["not_revertible"] = *why_not;
  }
  if (slot) {
    out["reverse_slot"] = {{"name", slot->name},
                           {"wal_status", slot->wal_status},
                           {"retained_bytes", slot->retained_bytes}};
  }
  return out;
}

void print_human(const MigrationRecord& record, const ReverseSlot& slot,
                 const std::optional<std::string>& why_not) {
  std::cout << record.name << "  " << record.table << "  " << record.operation << "  "
            << phase_name(record.phase);
  const auto since = record.entered.find(record.phase);
  if (since != record.entered.end()) {
    std::cout << " since " << since->second << " UTC";
  }
  if (record.lease_alive && runner_is_gone(record.owner)) {
    std::cout << "  was run by " << record.owner << ", which is no longer running";
  } else if (record.lease_alive) {
    std::cout << "  run by " << record.owner << " (lease until " << record.lease_until << " UTC)";
  } else if (phase_in_progress(record.phase)) {
    std::cout << "  no runner (last: " << record.owner << ")";
  }
  if (!record.error.empty()) {
    std::cout << "  error: " << record.error;
  }
  const nlohmann::json spec = nlohmann::json::parse(record.spec, nullptr, false);
  if (record.phase == Phase::switched && !is_phased_spec(record.spec) && spec.is_object() &&
      !spec.value("old_table", std::string()).empty()) {
    std::cout << "  old table kept as " << spec["old_table"].get<std::string>()
              << " (sluice contract " << record.name << " drops it)";
  }
  if (const std::optional<std::string> until = revertible_until(record)) {
    std::cout << "  revertible until " << *until << " UTC (sluice revert " << record.name << ")";
  }
  if (slot) {
    std::cout << "  its reverse slot " << slot->name << " retains "
              << slot->retained_bytes / (1024 * 1024)
              << " MB of WAL until then (sluice contract drops it)";
  }
  if (why_not) {
    std::cout << "  not revertible: " << *why_not;
  }
  std::cout << "\n";
}

}  // namespace

int run_status(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string name;
  std::string metadata_schema;
  bool json = false;
  po::options_description description("sluice status options");
  connection.add_to(description);
  description.add_options()("name", po::value(&name), "show only this migration")(
      "json", po::bool_switch(&json), "print one JSON object per migration, one per line")(
      "metadata-schema", po::value(&metadata_schema),
      "where the phase metadata lives (MySQL default: the DSN's database; PostgreSQL: sluice)");
  po::positional_options_description positional;
  positional.add("name", 1);
  if (!parse_options(args, description, "sluice status --dsn URL [NAME] [--json]", positional)) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  const std::optional<std::string> password = connection.resolve_password(dsn);
  std::unique_ptr<PhaseStore> store = server_family(dsn.kind).phase_store(
      dsn, password,
      metadata_schema.empty() ? std::nullopt : std::optional<std::string>(metadata_schema), "");
  std::vector<MigrationRecord> records;
  if (name.empty()) {
    records = store->list();
  } else if (std::optional<MigrationRecord> record = store->find(name)) {
    records.push_back(std::move(*record));
  } else {
    throw Error(ExitCode::not_found,
                "no migration named '" + name + "' is recorded; sluice status lists them all");
  }
  if (records.empty() && !json) {
    std::cout << "no migrations recorded\n";
  }
  for (const MigrationRecord& record : records) {
    const ReverseSlot slot = reverse_slot_of(dsn, password, record);
    const std::optional<std::string> why_not = not_revertible(record, dsn.kind, slot);
    if (json) {
      std::cout << to_json(record, slot, why_not).dump() << "\n";
    } else {
      print_human(record, slot, why_not);
    }
  }
  return 0;
}

}  // namespace sluice::cli

#include "src/phase_store.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

#include "src/error.h"
#include "src/migration_spec.h"

namespace sluice {
namespace {

constexpr std::array<std::pair<Phase, std::string_view>, 7> kPhaseNames = {{
    {Phase::planned, "planned"},
    {Phase::expanding, "expanding"},
    {Phase::backfilling, "backfilling"},
    {Phase::switched, "switched"},
    {Phase::contracted, "contracted"},
    {Phase::aborted, "aborted"},
    {Phase::reverted, "reverted"},
}};

}  // namespace

std::string_view phase_name(Phase phase) {
  for (const auto& [value, name] : kPhaseNames) {
    if (value == phase) {
      return name;
    }
  }
  return "unknown";
}

std::optional<Phase> parse_phase(std::string_view name) {
  for (const auto& [value, text] : kPhaseNames) {
    if (text == name) {
      return value;
    }
  }
  return std::nullopt;
}

const std::vector<Phase>& all_phases() {
  static const std::vector<Phase> phases = [] {
    std::vector<Phase> out;
    for (const auto& entry : kPhaseNames) {
      out.push_back(entry.first);
    }
    return out;
  }();
  return phases;
}

bool phase_in_progress(Phase phase) {
  return phase == Phase::planned || phase == Phase::expanding || phase == Phase::backfilling;
}

bool layout_needs_upgrade(int version, const std::string& where) {
  if (version > PhaseStore::kSchemaVersion) {
    throw Error(ExitCode::preflight_failed,
                "sluice's phase metadata in " + where + " has layout version " +
                    std::to_string(version) + ", newer than this sluice understands (" +
                    std::to_string(PhaseStore::kSchemaVersion) + "); run a newer sluice");
  }
  return version < PhaseStore::kSchemaVersion;
}

MigrationRecord record_from_row(const std::vector<std::optional<std::string>>& row) {
  MigrationRecord record;
  record.id = std::stoll(row.at(0).value_or("0"));
  record.name = row[1].value_or("");
  record.table = row[2].value_or("");
  record.operation = row[3].value_or("");
  record.spec = row[4].value_or("");
  record.phase = parse_phase(row[5].value_or("")).value_or(Phase::aborted);
  record.checkpoint = row[6].value_or("");
  record.grace_seconds = std::stoll(row[7].value_or("0"));
  record.owner = row[8].value_or("");
  record.lease_until = row[9].value_or("");
  const std::string alive = row[10].value_or("0");
  record.lease_alive = alive == "1" || alive == "t";
  record.error = row[11].value_or("");
  for (std::size_t i = 0; i < all_phases().size(); ++i) {
    if (row.at(12 + i)) {
      record.entered[all_phases()[i]] = *row[12 + i];
    }
  }
  return record;
}

void claim_table(PhaseStore& store, const MigrationRecord& record, const std::string& owner,
                 const std::vector<MigrationRecord>& in_progress) {
  for (const MigrationRecord& other : in_progress) {
    if (lease_held(other)) {
      throw Error(ExitCode::preflight_failed,
                  "migration '" + other.name + "' of " + record.table + " is in progress (" +
                      std::string(phase_name(other.phase)) + ") and run by " + other.owner +
                      ", whose lease runs until " + other.lease_until +
                      " UTC; wait for it to end (a stopped runner's lease expires within " +
                      std::to_string(PhaseStore::kLeaseSeconds) + " s)");
    }
    if (is_phased_spec(other.spec)) {
      continue;  // waiting between commands (for a release, a grace period): not stopped
    }
    store.set_phase(
        other.id, Phase::aborted,
        "its runner " + other.owner +
            (other.lease_alive ? " is no longer running" : " stopped renewing its lease") +
            "; taken over by " + owner);
  }
}

std::string this_runner() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) {
    host = {'?'};
  }
  return std::string(host.data()) + ":" + std::to_string(getpid());
}

bool runner_is_gone(const std::string& owner) {
  const std::string::size_type colon = owner.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return false;
  }
  const std::string here = this_runner();
  if (owner.compare(0, colon + 1, here, 0, here.rfind(':') + 1) != 0) {
    return false;
  }
  pid_t pid = 0;
  const char* digits = owner.data() + colon + 1;
  const char* end = owner.data() + owner.size();
  const auto [stop, error] = std::from_chars(digits, end, pid);
  if (error != std::errc() || stop != end || pid <= 0) {
    return false;
  }
  // Signal 0 only checks that the process exists; EPERM means it does, under another user.
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

bool lease_held(const MigrationRecord& record) {
  return record.lease_alive && !runner_is_gone(record.owner);
}

}  // namespace sluice

#include "src/phase_store.h"

#include <unistd.h>

#include <array>

#include "src/error.h"
#include "src/mysql/mysql_phase_store.h"
#include "src/postgres/pg_phase_store.h"

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

std::unique_ptr<PhaseStore> connect_phase_store(const Dsn& dsn,
                                                const std::optional<std::string>& password,
                                                const std::optional<std::string>& schema,
                                                const std::string& fallback_schema) {
  if (dsn.kind == ServerKind::postgres) {
    return std::make_unique<postgres::PgPhaseStore>(dsn, password, schema.value_or("sluice"));
  }
  std::string where = schema.value_or(dsn.database.empty() ? fallback_schema : dsn.database);
  if (where.empty()) {
    throw Error(ExitCode::usage,
                "no database to keep sluice's phase metadata in; name one in the DSN "
                "(mysql://host/db) or with --metadata-schema");
  }
  return std::make_unique<mysql::MysqlPhaseStore>(dsn, password, where);
}

std::string this_runner() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) {
    host = {'?'};
  }
  return std::string(host.data()) + ":" + std::to_string(getpid());
}

}  // namespace sluice

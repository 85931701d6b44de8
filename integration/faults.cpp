#include "integration/faults.h"

#include <thread>

#include "integration/support.h"
#include "src/phase_store.h"

namespace sluice::test {
namespace {

constexpr const char* kFaultUser = "sluice_faults";
constexpr const char* kFaultPassword = "faults-Secret-1";

std::string with_user(const std::string& dsn, const std::string& user) {
  const std::size_t scheme = dsn.find("://");
  const std::size_t at = dsn.find('@', scheme);
  return dsn.substr(0, scheme + 3) + user + dsn.substr(at);
}

}  // namespace

FaultUser fault_user(ServerKind kind, const std::string& admin_dsn) {
  if (kind == ServerKind::mysql) {
    mysql::Connection db(parse_dsn(admin_dsn), std::nullopt);
    db.execute(std::string("CREATE USER IF NOT EXISTS '") + kFaultUser + "'@'127.0.0.1'");
    db.execute(std::string("GRANT ALL PRIVILEGES ON *.* TO '") + kFaultUser +
               "'@'127.0.0.1' WITH GRANT OPTION");
    return {with_user(admin_dsn, kFaultUser), ""};
  }
  postgres::Connection db(parse_dsn(admin_dsn), std::nullopt);
  if (!db.query_value("SELECT 1 FROM pg_roles WHERE rolname = $1", {kFaultUser})) {
    db.execute(std::string("CREATE ROLE ") + kFaultUser + " LOGIN SUPERUSER PASSWORD '" +
               kFaultPassword + "'");
  }
  return {with_user(admin_dsn, kFaultUser), kFaultPassword};
}

int kill_fault_sessions(ServerKind kind, const std::string& admin_dsn) {
  int killed = 0;
  if (kind == ServerKind::mysql) {
    mysql::Connection db(parse_dsn(admin_dsn), std::nullopt);
    for (const ResultRow& row :
         db.query(std::string("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '") +
                  kFaultUser + "'")) {
      try {
        db.execute("KILL " + row[0].value_or("0"));
        ++killed;
      } catch (const ServerError&) {
        // The session ended by itself in the meantime.
      }
    }
    return killed;
  }
  postgres::Connection db(parse_dsn(admin_dsn), std::nullopt);
  for (const ResultRow& row :
       db.query("SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE usename = $1",
                {kFaultUser})) {
    killed += row[0] == "true" ? 1 : 0;
  }
  return killed;
}

bool wait_for_saved(const std::string& admin_dsn, const std::string& name, const std::string& part,
                    std::chrono::milliseconds limit) {
  auto store = phase_store(parse_dsn(admin_dsn), std::nullopt);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::optional<MigrationRecord> record = store->find(name);
    if (record && record->checkpoint.find(part) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool wait_for_checkpoint(const std::string& admin_dsn, const std::string& name,
                         std::chrono::milliseconds limit) {
  return wait_for_saved(admin_dsn, name, "\"watermark\":[", limit);
}

void expire_lease(ServerKind kind, const std::string& admin_dsn, const std::string& name) {
  if (kind == ServerKind::mysql) {
    mysql::Connection db(parse_dsn(admin_dsn), std::nullopt);
    db.execute(
        "UPDATE sluice_migrations SET lease_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE "
        "name = " +
        db.quote_literal(name));
    return;
  }
  postgres::Connection db(parse_dsn(admin_dsn), std::nullopt);
  db.query(
      "UPDATE sluice.migrations SET lease_until = clock_timestamp() - interval '1 second' WHERE "
      "name = $1",
      {name});
}

void forget_run(ServerKind kind, const std::string& admin_dsn, const std::string& name) {
  phase_store(parse_dsn(admin_dsn), std::nullopt)->ensure_schema();
  if (kind == ServerKind::mysql) {
    mysql::Connection db(parse_dsn(admin_dsn), std::nullopt);
    db.execute("DELETE FROM sluice_migrations WHERE name = " + db.quote_literal(name));
    return;
  }
  postgres::Connection db(parse_dsn(admin_dsn), std::nullopt);
  db.query("DELETE FROM sluice.migrations WHERE name = $1", {name});
}

std::string run_phase(const std::string& admin_dsn, const std::string& name) {
  auto store = phase_store(parse_dsn(admin_dsn), std::nullopt);
  const std::optional<MigrationRecord> record = store->find(name);
  return record ? std::string(phase_name(record->phase)) : std::string();
}

}  // namespace sluice::test

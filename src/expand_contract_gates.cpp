// ExpandContract's gates: what holds a switch (a dual-writing release not yet on every client,
// a soak time not yet over) and a contract (the grace period, old clients). Split from
// src/expand_contract.cpp to keep each file small; docs/migrations.md, "The application's part".
#include <set>

#include "src/expand_contract_session.h"

namespace sluice {
namespace {

std::string session_id_of(const std::string& described) {
  return described.substr(0, described.find(' '));
}

}  // namespace

std::optional<std::string> ExpandContract::blocker_of(Session& session,
                                                      const ContractOptions& options) {
  if (options.force) {
    return std::nullopt;
  }
  const std::string& name = session.record.name;
  const std::int64_t grace = session.spec.grace_seconds;
  const std::int64_t since =
      session.store->seconds_since(session.record.id, Phase::switched).value_or(0);
  if (since < grace) {
    return "migration '" + name + "' switched " + std::to_string(since) +
           " s ago; its grace period of " + std::to_string(grace) + " s ends in " +
           std::to_string(grace - since) + " s (--force contracts now)";
  }
  const std::string condition =
      options.old_clients.empty() ? session.spec.old_clients : options.old_clients;
  if (condition.empty()) {
    return std::nullopt;
  }
  const std::vector<std::string> sessions = backend_->sessions_where(
      condition, {session.store->session_id(), session.lease->session_id()});
  if (sessions.empty()) {
    return std::nullopt;
  }
  return std::to_string(sessions.size()) +
         " client(s) of the previous version are still "
         "connected (" +
         sessions.front() + (sessions.size() > 1 ? ", …" : "") + ", matching " + condition +
         "); contract once they are gone (--force contracts now)";
}

std::optional<std::string> ExpandContract::contract_blocker(const std::string& name,
                                                            const ContractOptions& options) {
  std::unique_ptr<Session> session = open(name, {Phase::switched}, "contract");
  return blocker_of(*session, options);
}

std::vector<std::string> ExpandContract::clients_not_matching(Session& session,
                                                              const std::string& condition) {
  const std::vector<std::string> own = {session.store->session_id(), session.lease->session_id()};
  // Every client, then those the condition matches: the difference needs no SQL of the engine
  // (TRUE reads alike in both dialects), and a client whose columns make the condition NULL
  // counts as not matching.
  std::set<std::string> matching;
  for (const std::string& client : backend_->sessions_where(condition, own)) {
    matching.insert(session_id_of(client));
  }
  std::vector<std::string> others;
  for (const std::string& client : backend_->sessions_where("TRUE", own)) {
    if (matching.count(session_id_of(client)) == 0) {
      others.push_back(client);
    }
  }
  return others;
}

void ExpandContract::note_verification(Session& session, const VerifyReport& report) {
  if (report.mismatches == 0) {
    return;
  }
  // The soak of switch-after starts again: stored as seconds after expand by the server's
  // clock, the same clock the soak is measured with.
  session.checkpoint["verify_failed_at"] =
      session.store->seconds_since(session.record.id, Phase::expanding).value_or(0);
  session.save();
}

std::optional<std::string> ExpandContract::switch_blocker_of(Session& session) {
  const MigrationSpec& spec = session.spec;
  const std::string& name = session.record.name;
  if (spec.switch_after_seconds) {
    const std::int64_t since =
        session.store->seconds_since(session.record.id, Phase::expanding).value_or(0);
    const std::int64_t soaked =
        since - session.checkpoint.value("verify_failed_at", std::int64_t{0});
    if (soaked < *spec.switch_after_seconds) {
      return "migration '" + name + "' has soaked " + std::to_string(soaked) +
             " s since expand (or since verification last found differing rows); its "
             "switch-after of " +
             std::to_string(*spec.switch_after_seconds) + " s ends in " +
             std::to_string(*spec.switch_after_seconds - soaked) + " s (--force switches now)";
    }
  }
  if (!spec.dual_write_clients.empty()) {
    const std::vector<std::string> others = clients_not_matching(session, spec.dual_write_clients);
    if (!others.empty()) {
      return std::to_string(others.size()) +
             " connected client(s) are not of the dual-writing "
             "release (" +
             others.front() + (others.size() > 1 ? ", …" : "") + ", not matching " +
             spec.dual_write_clients + "); switch once every client runs it (--force switches now)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> ExpandContract::switch_blocker(const std::string& name) {
  std::unique_ptr<Session> session = open(name, {Phase::expanding, Phase::backfilling}, "switch");
  return switch_blocker_of(*session);
}

}  // namespace sluice

// The backfill (and its --repair) of an expand-contract migration: key-ordered, throttled,
// resumable batches that never make the application wait on, or lose, a lock because of
// sluice (docs/safety.md, "The backfill yields to the application").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "src/error.h"
#include "src/expand_contract.h"
#include "src/expand_contract_session.h"

namespace sluice {
namespace {

// Tries of one batch during the walk while the application holds some of its rows (about
// 350 ms of pauses), then the batch is left for the later pass, which waits longer (about 9 s).
constexpr int kWalkTries = 4;
constexpr int kLaterPassTries = 8;
constexpr std::chrono::milliseconds kFirstPause{50};
constexpr std::chrono::milliseconds kLongestPause{2000};

nlohmann::json range_json(const KeyRange& range) {
  nlohmann::json json = nlohmann::json::object();
  json["after"] = range.after ? nlohmann::json(*range.after) : nlohmann::json();
  json["up_to"] = range.up_to ? nlohmann::json(*range.up_to) : nlohmann::json();
  return json;
}

KeyRange range_from_json(const nlohmann::json& json) {
  KeyRange range;
  if (!json.at("after").is_null()) {
    range.after = json["after"].get<KeyText>();
  }
  if (!json.at("up_to").is_null()) {
    range.up_to = json["up_to"].get<KeyText>();
  }
  return range;
}

std::string describe_range(const KeyRange& range) {
  return "keys " + (range.after ? "after " + describe_key(*range.after) : "from the first") +
         (range.up_to ? " up to " + describe_key(*range.up_to) : " to the last");
}

}  // namespace

BackfillBatch ExpandContract::fill_range(Session& session, const std::string& rows,
                                         const KeyRange& range, int tries) {
  BackfillBatch total;
  std::chrono::milliseconds pause = kFirstPause;
  for (int tried = 1;; ++tried) {
    const BackfillBatch batch =
        backend_->backfill(session.table, *session.plan.backfill, rows, range);
    total.written += batch.written;
    total.skipped = batch.skipped;
    if (batch.skipped == 0 || tried >= tries || stop_.load()) {
      return total;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kLongestPause);
  }
}

void ExpandContract::backfill(const std::string& name, bool repair) {
  std::unique_ptr<Session> session = open(name, {Phase::expanding, Phase::backfilling}, "backfill");
  // The backfill writes into the added column: it must still be the one expand added.
  require_added_columns(*session, session->plan.expand);
  if (session->record.phase == Phase::expanding) {
    session->enter(Phase::backfilling);
  }
  if (!session->plan.backfill) {
    spdlog::info("migration {} has nothing to backfill", name);
    session->checkpoint["backfill"] = {{"done", true}};
    session->save();
    return;
  }
  const char* what = repair ? "repair" : "backfill";
  const std::string rows = backfill_rows(
      *session->plan.backfill, session->plan.mismatch.value_or(""), backend_->ddl(), repair);
  nlohmann::json& progress = session->checkpoint[what];
  std::optional<KeyText> after;
  std::vector<KeyRange> skipped;
  bool walked = false;
  if (progress.is_object() && !progress.value("done", false)) {
    if (progress.contains("after")) {
      after = progress["after"].get<KeyText>();
      spdlog::info("{} of {} continues after key {}", what, name, describe_key(*after));
    }
    for (const nlohmann::json& range : progress.value("skipped", nlohmann::json::array())) {
      skipped.push_back(range_from_json(range));
    }
    walked = progress.value("walked", false);
  }
  const auto save = [&](bool walk_done) {
    nlohmann::json ranges = nlohmann::json::array();
    for (const KeyRange& range : skipped) {
      ranges.push_back(range_json(range));
    }
    progress = {{"done", false}, {"walked", walk_done}, {"skipped", ranges}};
    if (after) {
      progress["after"] = *after;
    }
    session->save();
  };
  const std::string table = ddl::quote_qualified(backend_->ddl().dialect(), session->table);
  std::uint64_t batch = control_.chunk_rows().value_or(1000);
  std::uint64_t filled = 0;
  std::uint64_t batches = 0;
  auto reported = std::chrono::steady_clock::now();
  auto started = reported;
  const auto size = [&] {
    wait_turn(table, filled, batch);
    started = std::chrono::steady_clock::now();
    if (started - reported > std::chrono::seconds(10)) {
      reported = started;
      spdlog::info("{} of {}: {} rows written, batches of {} rows", what, name, filled, batch);
    }
    return batch;
  };
  if (!walked) {
    walk_batches(*session, session->table, after, size, [&](const KeyRange& range) {
      const BackfillBatch done = fill_range(*session, rows, range, kWalkTries);
      filled += done.written;
      ++batches;
      if (done.skipped > 0) {
        spdlog::info(
            "{} of {}: {} rows of {} are locked by the application; a later pass takes "
            "them",
            what, name, done.skipped, describe_range(range));
        skipped.push_back(range);
      }
      if (!range.up_to) {
        return;
      }
      after = range.up_to;
      save(false);
      batch = next_batch_rows(batch, std::chrono::steady_clock::now() - started);
    });
  }
  // The later pass: the application's transactions that held rows during the walk have most
  // likely ended since.
  std::vector<KeyRange> still_locked;
  std::uint64_t locked = 0;
  for (const KeyRange& range : skipped) {
    session->check_lease();
    wait_turn(table, filled, batch);
    const BackfillBatch done = fill_range(*session, rows, range, kLaterPassTries);
    filled += done.written;
    if (done.skipped > 0) {
      still_locked.push_back(range);
      locked += done.skipped;
    }
  }
  if (!still_locked.empty()) {
    skipped = still_locked;
    save(true);
    throw Error(ExitCode::preflight_failed,
                std::to_string(locked) + " rows of " + table +
                    " stayed locked by the application's transactions through every pass, and "
                    "the " +
                    what + " never waits for them; run sluice backfill " +
                    (repair ? "--repair " : "") + name +
                    " again once those transactions end (it takes only those rows)");
  }
  progress = {{"done", true}};
  session->save();
  spdlog::info("{} of {} done: {} rows written in {} batches", what, name, filled, batches);
}

std::uint64_t ExpandContract::next_batch_rows(std::uint64_t rows,
                                              std::chrono::steady_clock::duration took) const {
  if (control_.chunk_rows()) {
    return *control_.chunk_rows();
  }
  // Size batches so each takes about --batch-time: long enough to be efficient, short enough
  // that its row locks never stall the application.
  if (took < settings_.batch_time / 2) {
    return std::min<std::uint64_t>(rows * 2, 100000);
  }
  if (took > settings_.batch_time * 2) {
    return std::max<std::uint64_t>(rows / 2, 10);
  }
  return rows;
}

}  // namespace sluice

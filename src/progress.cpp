#include "src/progress.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kRateWindow = std::chrono::seconds(10);
constexpr milliseconds kRateSampleSpacing{100};
constexpr milliseconds kTtyRefresh{500};

double percent(const MigrationStatus& status) {
  if (status.rows_estimated == 0) {
    return status.step == RunStep::copy ? 0.0 : 100.0;
  }
  return std::min(100.0, 100.0 * static_cast<double>(status.rows_copied) /
                             static_cast<double>(status.rows_estimated));
}

// The rate to show: a paused copy moves no rows, although the rate over the last seconds still
// counts the chunks before the pause.
double shown_rate(const MigrationStatus& status, double rate) {
  return status.throttle_reason.empty() ? rate : 0.0;
}

// Without statistics (a fresh or empty table) the server estimates 0 rows: there is no total to
// show a share of.
bool has_estimate(const MigrationStatus& status) {
  return status.rows_estimated > 0;
}

std::optional<double> eta_seconds(const MigrationStatus& status, double rate) {
  if (status.step != RunStep::copy || rate <= 0 || !has_estimate(status)) {
    return std::nullopt;
  }
  if (status.rows_copied >= status.rows_estimated) {
    return 0.0;
  }
  return static_cast<double>(status.rows_estimated - status.rows_copied) / rate;
}

double seconds(milliseconds duration) {
  return static_cast<double>(duration.count()) / 1000.0;
}

// What makes a status worth showing at once: the state and why.
std::string state_key(const MigrationStatus& status) {
  return std::string(step_name(status.step)) + "|" + state_name(status) + "|" +
         status.throttle_reason + "|" + status.postpone_reason;
}

// Wraps the logger's sinks: clears an open status line before a log line is written.
class LineClearingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LineClearingSink(std::vector<spdlog::sink_ptr> sinks, std::shared_ptr<std::atomic<bool>> open)
      : sinks_(std::move(sinks)), open_(std::move(open)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    if (open_->exchange(false)) {
      std::fputs("\r\033[K", stderr);
    }
    for (const spdlog::sink_ptr& sink : sinks_) {
      if (sink->should_log(message.level)) {
        sink->log(message);
      }
    }
  }
  void flush_() override {
    for (const spdlog::sink_ptr& sink : sinks_) {
      sink->flush();
    }
  }

 private:
  std::vector<spdlog::sink_ptr> sinks_;
  std::shared_ptr<std::atomic<bool>> open_;
};

}  // namespace

void RateMeter::add(Clock::time_point now, std::uint64_t rows) {
  if (!samples_.empty() && now - samples_.back().first < kRateSampleSpacing) {
    samples_.back().second = rows;
    return;
  }
  samples_.emplace_back(now, rows);
  while (samples_.size() > 2 && now - samples_[1].first >= kRateWindow) {
    samples_.pop_front();
  }
}

double RateMeter::rows_per_second() const {
  if (samples_.size() < 2) {
    return 0;
  }
  const auto& [first_time, first_rows] = samples_.front();
  const auto& [last_time, last_rows] = samples_.back();
  const double span = std::chrono::duration<double>(last_time - first_time).count();
  return span <= 0 || last_rows < first_rows ? 0
                                             : static_cast<double>(last_rows - first_rows) / span;
}

const char* state_name(const MigrationStatus& status) {
  switch (status.step) {
    case RunStep::done:
      return "done";
    case RunStep::aborted:
      return "aborted";
    case RunStep::failed:
      return "failed";
    case RunStep::waiting:
      return status.throttle_reason.empty() ? "waiting" : "paused";
    default:
      return status.throttle_reason.empty() ? "running" : "paused";
  }
}

std::string status_line(const MigrationStatus& status, double measured_rate) {
  const double rows_per_second = shown_rate(status, measured_rate);
  std::string line =
      has_estimate(status)
          ? fmt::format("{} {:.1f}% ({}/{} rows)", step_name(status.step), percent(status),
                        status.rows_copied, status.rows_estimated)
          : fmt::format("{} {} rows (no row estimate)", step_name(status.step), status.rows_copied);
  line += fmt::format(", {:.0f} rows/s", rows_per_second);
  if (const std::optional<double> eta = eta_seconds(status, rows_per_second)) {
    line += fmt::format(", ETA {:.0f} s", *eta);
  }
  line += fmt::format(", stream lag {:.1f} s, {} changes applied, {} held, elapsed {:.0f} s",
                      seconds(status.stream_lag), status.changes_applied, status.changes_held,
                      seconds(status.elapsed));
  if (!status.throttle_reason.empty()) {
    line += " - paused: " + status.throttle_reason;
  }
  if (!status.postpone_reason.empty()) {
    line += " - waiting to cut over: " + status.postpone_reason;
  }
  return line;
}

nlohmann::ordered_json status_json(const MigrationStatus& status, double measured_rate) {
  const auto or_null = [](const std::string& text) {
    return text.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(text);
  };
  const double rows_per_second = shown_rate(status, measured_rate);
  const std::optional<double> eta = eta_seconds(status, rows_per_second);
  return {{"event", "status"},
          {"table", status.table},
          {"phase", step_name(status.step)},
          {"state", state_name(status)},
          {"rows_copied", status.rows_copied},
          {"rows_estimated", status.rows_estimated},
          {"percent", has_estimate(status) ? nlohmann::ordered_json(percent(status))
                                           : nlohmann::ordered_json()},
          {"rows_per_second", rows_per_second},
          {"eta_seconds", eta ? nlohmann::ordered_json(*eta) : nlohmann::ordered_json()},
          {"changes_applied", status.changes_applied},
          {"changes_held", status.changes_held},
          {"chunk_rows", status.chunk_rows},
          {"stream_lag_seconds", seconds(status.stream_lag)},
          {"elapsed_seconds", seconds(status.elapsed)},
          {"throttle_reason", or_null(status.throttle_reason)},
          {"postpone_reason", or_null(status.postpone_reason)}};
}

Progress::Progress(ProgressSettings settings, std::ostream& out)
    : settings_(settings), out_(out), last_periodic_(Clock::now()) {
  if (settings_.tty) {
    logger_ = spdlog::default_logger();
    original_sinks_ = logger_->sinks();
    logger_->sinks() = {std::make_shared<LineClearingSink>(original_sinks_, line_open_)};
  }
}

Progress::~Progress() {
  end_line();
  if (logger_) {
    logger_->sinks() = original_sinks_;
  }
}

void Progress::draw(const std::string& line) {
  last_refresh_ = Clock::now();
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  line_open_->store(true);
}

void Progress::end_line() {
  if (line_open_->exchange(false)) {
    std::fputs("\n", stderr);
  }
}

bool Progress::update(const MigrationStatus& status, double rows_per_second) {
  const auto now = Clock::now();
  const bool periodic = now - last_periodic_ >= settings_.interval;
  const std::string key = state_key(status);
  const bool changed = key != last_state_;
  if (periodic || changed) {
    last_periodic_ = now;
    last_state_ = key;
    show(status, rows_per_second);
    return true;
  }
  if (settings_.tty && now - last_refresh_ >= kTtyRefresh) {
    draw(status_line(status, rows_per_second));
  }
  return false;
}

void Progress::show(const MigrationStatus& status, double rows_per_second) {
  const std::string line = status_line(status, rows_per_second);
  if (settings_.tty) {
    draw(line);
  } else {
    spdlog::info("{}", line);
  }
  if (settings_.json) {
    out_ << status_json(status, rows_per_second).dump() << std::endl;
  }
}

void Progress::event(std::string_view name, const MigrationStatus& status,
                     const std::string& detail) {
  end_line();
  if (!detail.empty()) {
    spdlog::info("{}: {}", name, detail);
  }
  if (settings_.json) {
    nlohmann::ordered_json object = status_json(status, 0);
    object["event"] = name;
    if (!detail.empty()) {
      object["detail"] = detail;
    }
    out_ << object.dump() << std::endl;
  }
}

void Progress::summary(const RebuildSummary& summary, const MigrationStatus& status) {
  end_line();
  if (settings_.json) {
    out_ << nlohmann::ordered_json{{"event", "summary"},
                                   {"table", status.table},
                                   {"applied_in_place", summary.applied_in_place},
                                   {"rows_copied", summary.rows_copied},
                                   {"changes_applied", summary.changes_applied},
                                   {"rows_verified", summary.rows_verified},
                                   {"duration_ms", summary.duration.count()},
                                   {"write_block_ms", summary.cut_over.write_block.count()},
                                   {"cut_over_attempts", summary.cut_over.attempts},
                                   {"rows_discarded", summary.rows_discarded},
                                   {"old_table_dropped", summary.old_table_dropped}}
                .dump()
         << std::endl;
    return;
  }
  if (summary.applied_in_place) {
    out_ << "done: the server applied the change in place in " << summary.duration.count()
         << " ms; no rows were copied\n";
    return;
  }
  out_ << "done in " << summary.duration.count() << " ms: " << summary.rows_copied
       << " rows copied, " << summary.changes_applied << " changes applied, "
       << summary.rows_verified << " rows verified, writes blocked for "
       << summary.cut_over.write_block.count() << " ms at cut-over (" << summary.cut_over.attempts
       << (summary.cut_over.attempts == 1 ? " attempt" : " attempts") << ")\n";
  if (summary.old_table_dropped) {
    out_ << "the old table was dropped (--drop-old-table)\n";
  }
  if (summary.rows_discarded > 0) {
    out_ << summary.rows_discarded
         << " rows were discarded: each duplicated the new unique key of a kept row\n";
  }
}

}  // namespace sluice

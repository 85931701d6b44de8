#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "src/migration_control.h"
#include "src/migrator.h"

namespace sluice {

// The copy rate over the last few seconds (not since the start), so a paused copy shows 0 rows/s
// at once and a resumed one its real speed.
class RateMeter {
 public:
  void add(std::chrono::steady_clock::time_point now, std::uint64_t rows);
  double rows_per_second() const;

 private:
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> samples_;
};

// "running", "paused" (throttled), "waiting" (cut-over postponed), "done", "aborted", "failed".
const char* state_name(const MigrationStatus& status);

// One line for people: "copy 45.1% (9020/20000 rows), 3100 rows/s, ETA 4 s, … — paused: …".
// `rows_per_second` is the measured rate; a paused copy shows 0 rows/s and no ETA, and without a
// row estimate (0: no statistics) the line shows the rows so far ("copy 1000 rows (no row
// estimate)") and no percentage or ETA.
std::string status_line(const MigrationStatus& status, double rows_per_second);

// One object for scripts: {"event":"status", "phase", "state", "rows_copied", …}; the schema
// is documented in docs/control.md and never loses a field. The rate and ETA follow the rules
// of status_line; `percent` is null without a row estimate.
nlohmann::ordered_json status_json(const MigrationStatus& status, double rows_per_second);

struct ProgressSettings {
  bool tty = false;   // stderr is a terminal: one refreshing line instead of log lines
  bool json = false;  // also one JSON object per status event on stdout
  std::chrono::milliseconds interval{30000};
};

// Shows a running migration: on a terminal a single line refreshed in place; otherwise one log
// line every interval and whenever the state changes (paused, resumed, waiting); with --json
// the same events as JSON lines on `out`. Called on the migrator's thread only.
class Progress {
 public:
  // On a terminal, log lines from any thread first clear the status line (which is redrawn on
  // the next refresh), so the two never share a line; the destructor undoes that.
  Progress(ProgressSettings settings, std::ostream& out);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Renders `status` when due. Returns true for a periodic status event (one per interval), so
  // the caller can run the on-status hook at the same pace.
  bool update(const MigrationStatus& status, double rows_per_second);
  // A one-off event ("rowcount-complete", "begin-copy", "aborted", …).
  void event(std::string_view name, const MigrationStatus& status, const std::string& detail = "");
  void summary(const RebuildSummary& summary, const MigrationStatus& status);

 private:
  void show(const MigrationStatus& status, double rows_per_second);
  void draw(const std::string& line);
  void end_line();

  ProgressSettings settings_;
  std::ostream& out_;
  std::chrono::steady_clock::time_point last_periodic_;
  std::chrono::steady_clock::time_point last_refresh_;
  std::string last_state_;
  // A TTY status line is shown without its newline; shared with the log sink's thread.
  std::shared_ptr<std::atomic<bool>> line_open_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<spdlog::logger> logger_;
  std::vector<spdlog::sink_ptr> original_sinks_;
};

}  // namespace sluice

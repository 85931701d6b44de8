#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "src/migration_control.h"

namespace sluice {

// What the metrics show beyond a MigrationStatus: counted over the whole run.
struct RunCounters {
  std::uint64_t errors = 0;   // lost or refused connections, plus the error that ended the run
  std::uint64_t retries = 0;  // units of work redone on a new connection
  // Known once the cut-over is done.
  std::optional<std::chrono::milliseconds> write_block;
  int cut_over_attempts = 0;
};

// The state of a migration in the Prometheus text exposition format (version 0.0.4): every
// metric with its HELP and TYPE lines, every sample labelled with the table, no timestamps (the
// node_exporter textfile collector refuses them). The names and their meaning are documented
// in docs/control.md ("Metrics") and never change meaning. `now` becomes
// sluice_last_update_timestamp_seconds.
std::string render_metrics(const MigrationStatus& status, double rows_per_second,
                           const RunCounters& counters, std::chrono::system_clock::time_point now);

// A file that always holds one complete rendering: each write goes to a temporary file in the
// same directory (`PATH.tmp.PID`, which the textfile collector ignores: it reads *.prom only)
// and is renamed over PATH, so a reader sees the previous content or the new one, never a
// partial file. The file stays after the run with the final phase; sluice does not remove it.
class MetricsFile {
 public:
  explicit MetricsFile(std::string path);

  // Replaces the file's content with `text` (mode 0644: the scraper usually runs as another
  // user; the metrics hold table names and counts, no secret). Throws Error(ExitCode::usage)
  // naming the path and the reason when the file cannot be written.
  void write(const std::string& text) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sluice

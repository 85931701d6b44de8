#include "src/metrics_file.h"

#include <spdlog/fmt/fmt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "src/error.h"

namespace sluice {
namespace {

// Every phase gets a sample (1 for the current one, 0 for the others), so that an alert such
// as `sluice_phase{phase="waiting"} == 1` sees the series before the run gets there.
constexpr RunStep kPhases[] = {RunStep::starting, RunStep::copy, RunStep::verify,  RunStep::waiting,
                               RunStep::cut_over, RunStep::done, RunStep::aborted, RunStep::failed};

// A label value as the text format wants it: backslash, double quote and newline escaped.
std::string label_value(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '\\' || c == '"') {
      escaped += '\\';
      escaped += c;
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

double seconds(std::chrono::milliseconds duration) {
  return static_cast<double>(duration.count()) / 1000.0;
}

class Writer {
 public:
  explicit Writer(const std::string& table)
      : table_label_("table=\"" + label_value(table) + "\"") {}

  void family(const char* name, const char* type, const char* help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(const char* name, double value, const std::string& extra_labels = "") {
    text_ += fmt::format("{}{{{}{}}} {}\n", name, table_label_, extra_labels, value);
  }
  void single(const char* name, const char* type, const char* help, double value) {
    family(name, type, help);
    sample(name, value);
  }
  // A gauge that is 1 with the reason as a label while `reason` is set, else 0 with reason="".
  void flag(const char* name, const char* help, const std::string& reason) {
    family(name, "gauge", help);
    sample(name, reason.empty() ? 0 : 1, ",reason=\"" + label_value(reason) + "\"");
  }
  std::string text() { return std::move(text_); }

 private:
  std::string table_label_;
  std::string text_;
};

}  // namespace

std::string render_metrics(const MigrationStatus& status, double rows_per_second,
                           const RunCounters& counters, std::chrono::system_clock::time_point now) {
  Writer out(status.table);
  out.family("sluice_phase", "gauge", "1 for the phase the migration is in, 0 for the others.");
  for (const RunStep phase : kPhases) {
    out.sample("sluice_phase", phase == status.step ? 1 : 0,
               fmt::format(",phase=\"{}\"", step_name(phase)));
  }
  out.single("sluice_rows_copied_total", "counter", "Rows copied into the shadow table.",
             static_cast<double>(status.rows_copied));
  out.single("sluice_rows_estimated", "gauge", "The server's estimate of the table's rows.",
             static_cast<double>(status.rows_estimated));
  out.single("sluice_rows_per_second", "gauge", "Copy rate over the last 10 seconds.",
             rows_per_second);
  out.single("sluice_changes_applied_total", "counter",
             "Row changes of the change stream applied to the shadow table.",
             static_cast<double>(status.changes_applied));
  out.single("sluice_changes_held", "gauge",
             "Row changes read but held back (their key range is not copied yet, or paused).",
             static_cast<double>(status.changes_held));
  out.single("sluice_stream_lag_seconds", "gauge",
             "Now minus the commit time of the last change read from the change stream.",
             seconds(status.stream_lag));
  out.flag("sluice_throttled", "1 while the copy is paused, with the reason.",
           status.throttle_reason);
  out.flag("sluice_cut_over_postponed", "1 while the cut-over is held, with the reason.",
           status.postpone_reason);
  if (counters.write_block) {
    out.single("sluice_cut_over_write_block_seconds", "gauge",
               "How long writes to the table were blocked by the cut-over.",
               seconds(*counters.write_block));
    out.single("sluice_cut_over_attempts", "gauge",
               "Cut-over attempts (more than 1: the lock was not granted in time).",
               counters.cut_over_attempts);
  }
  out.single("sluice_errors_total", "counter",
             "Errors: lost or refused connections, and the error that ended the run.",
             static_cast<double>(counters.errors));
  out.single("sluice_retries_total", "counter",
             "Units of work (a chunk, a batch of changes) redone on a new connection.",
             static_cast<double>(counters.retries));
  out.single("sluice_elapsed_seconds", "gauge", "Time since the migration started.",
             seconds(status.elapsed));
  out.single("sluice_last_update_timestamp_seconds", "gauge",
             "When sluice wrote this file (Unix time).",
             std::chrono::duration<double>(now.time_since_epoch()).count());
  return out.text();
}

MetricsFile::MetricsFile(std::string path) : path_(std::move(path)) {}

void MetricsFile::write(const std::string& text) const {
  const std::string temporary = path_ + ".tmp." + std::to_string(::getpid());
  const auto failed = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    return Error(ExitCode::usage,
                 fmt::format("--metrics-file: cannot {} {}: {}", what, path_, reason));
  };
  {
    std::ofstream file(temporary, std::ios::trunc);
    if (!file || !(file << text) || !file.flush()) {
      throw failed("write");
    }
  }
  // The process umask could leave it unreadable to the scraper's user.
  if (::chmod(temporary.c_str(), 0644) != 0) {
    throw failed("set the mode of");
  }
  if (std::rename(temporary.c_str(), path_.c_str()) != 0) {
    throw failed("rename the temporary file to");
  }
}

}  // namespace sluice

#include "src/controller.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <thread>

#include "src/control_command.h"
#include "src/reconnect.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often a paused or held migration looks again (files react within this, plus a chunk).
constexpr milliseconds kPollInterval{100};
// How often a failed on-before-cut-over hook is run again.
constexpr milliseconds kHookRetryInterval{2000};

}  // namespace

Controller::Controller(ControllerSettings settings, std::unique_ptr<LoadProbe> probe,
                       std::ostream& out)
    : settings_(std::move(settings)),
      throttler_(settings_.throttle, std::move(probe)),
      progress_(settings_.progress, out),
      hooks_(settings_.hooks_path, settings_.hooks_time_limit),
      chunk_rows_(settings_.chunk_rows) {}

// The socket goes first: its thread calls into the rest.
Controller::~Controller() {
  socket_.reset();
}

void Controller::start(const std::string& table) {
  {
    std::lock_guard lock(mutex_);
    latest_.table = table;
  }
  if (!settings_.metrics_path.empty()) {
    // Written once now so that a wrong path stops the run before anything is created.
    MigrationStatus status;
    status.table = table;
    auto metrics = std::make_unique<MetricsFile>(settings_.metrics_path);
    metrics->write(render_metrics(status, 0, run_counters_, std::chrono::system_clock::now()));
    metrics_ = std::move(metrics);
  }
  throttler_.start();
  if (const std::optional<std::string> reason = throttler_.abort_reason()) {
    throw Error(ExitCode::aborted, "not started (" + *reason + "); nothing was changed");
  }
  if (!settings_.socket_path.empty()) {
    socket_ = std::make_unique<ControlSocket>(
        settings_.socket_path, [this](const std::string& line) { return handle_command(line); });
  }
  MigrationStatus status;
  status.table = table;
  if (!hooks_.run("on-startup", environment("on-startup", status))) {
    throw Error(ExitCode::aborted,
                "the on-startup hook failed, so sluice did not start; "
                "nothing was changed");
  }
}

std::map<std::string, std::string> Controller::environment(const std::string& hook,
                                                           const MigrationStatus& status) const {
  std::map<std::string, std::string> env = settings_.hook_environment;
  env["SLUICE_HOOK"] = hook;
  env["SLUICE_PID"] = std::to_string(::getpid());
  env["SLUICE_PHASE"] = step_name(status.step);
  env["SLUICE_STATE"] = state_name(status);
  env["SLUICE_ROWS_ESTIMATED"] = std::to_string(status.rows_estimated);
  env["SLUICE_ROWS_COPIED"] = std::to_string(status.rows_copied);
  env["SLUICE_CHANGES_APPLIED"] = std::to_string(status.changes_applied);
  env["SLUICE_ELAPSED_SECONDS"] = std::to_string(status.elapsed.count() / 1000);
  env["SLUICE_THROTTLE_REASON"] = status.throttle_reason;
  env["SLUICE_POSTPONE_REASON"] = status.postpone_reason;
  env["SLUICE_STATUS"] = status_line(status, 0);
  return env;
}

void Controller::event(MigrationEvent event, const MigrationStatus& status) {
  const char* name =
      event == MigrationEvent::rowcount_complete ? "rowcount-complete" : "begin-copy";
  progress_.event(name, status);
  const std::string hook = std::string("on-") + name;
  if (!hooks_.run(hook, environment(hook, status))) {
    throw Error(ExitCode::aborted, "the " + hook + " hook failed");
  }
}

void Controller::status(const MigrationStatus& status) {
  double rate = 0;
  {
    std::lock_guard lock(mutex_);
    latest_ = status;
    rate_.add(Clock::now(), status.rows_copied);
    rate = rate_.rows_per_second();
  }
  if (progress_.update(status, rate)) {
    write_metrics(status, rate);
    hooks_.run("on-status", environment("on-status", status));
  }
}

void Controller::wait_while_throttled(MigrationStatus& status,
                                      const std::function<void(bool)>& keep_up) {
  // --nice-ratio: rest for a share of the time the last chunk (and its apply) took.
  const auto now = Clock::now();
  const auto nice_until = copying_ ? now + std::chrono::duration_cast<Clock::duration>(
                                               (now - chunk_released_) * throttler_.nice_ratio())
                                   : now;
  copying_ = true;
  for (;;) {
    const std::optional<std::string> reason = throttler_.throttle_reason();
    const auto iteration = Clock::now();
    if (!reason && iteration >= nice_until) {
      break;
    }
    status.throttle_reason = reason.value_or("");
    // While paused the stream is still read (within the held-changes limit), not written.
    keep_up(!reason);
    this->status(status);
    std::this_thread::sleep_until(reason ? iteration + kPollInterval
                                         : std::min(iteration + kPollInterval, nice_until));
  }
  if (!status.throttle_reason.empty()) {
    status.throttle_reason.clear();
    this->status(status);
  }
  chunk_released_ = Clock::now();
}

std::optional<std::uint64_t> Controller::chunk_rows() {
  std::lock_guard lock(mutex_);
  return chunk_rows_;
}

void Controller::wait_for_cut_over(MigrationStatus& status,
                                   const std::function<void(bool)>& keep_up) {
  const RunStep step = status.step;
  auto hook_due = Clock::now();
  for (;;) {
    const auto iteration = Clock::now();
    std::optional<std::string> postpone = throttler_.postpone_reason();
    const std::optional<std::string> throttle = throttler_.throttle_reason();
    if (!postpone && !throttle) {
      if (iteration < hook_due) {
        postpone = status.postpone_reason;
      } else if (hooks_.run("on-before-cut-over", environment("on-before-cut-over", status))) {
        break;
      } else {
        postpone = "the on-before-cut-over hook failed; it runs again every " +
                   std::to_string(kHookRetryInterval.count() / 1000) + " s";
        hook_due = Clock::now() + kHookRetryInterval;
      }
    }
    status.step = RunStep::waiting;
    status.postpone_reason = postpone.value_or("");
    status.throttle_reason = throttle.value_or("");
    keep_up(!throttle);
    this->status(status);
    std::this_thread::sleep_until(iteration + kPollInterval);
  }
  status.step = step;
  status.postpone_reason.clear();
  status.throttle_reason.clear();
}

std::optional<std::string> Controller::abort_reason() const {
  return throttler_.abort_reason();
}

void Controller::succeeded(const RebuildSummary& summary) {
  MigrationStatus status;
  {
    std::lock_guard lock(mutex_);
    latest_.step = RunStep::done;
    latest_.rows_copied = summary.rows_copied;
    latest_.changes_applied = summary.changes_applied;
    latest_.elapsed = summary.duration;
    status = latest_;
  }
  progress_.summary(summary, status);
  if (!summary.applied_in_place) {
    run_counters_.write_block = summary.cut_over.write_block;
    run_counters_.cut_over_attempts = summary.cut_over.attempts;
  }
  write_metrics(status, 0);
  std::map<std::string, std::string> env = environment("on-success", status);
  env["SLUICE_ROWS_VERIFIED"] = std::to_string(summary.rows_verified);
  env["SLUICE_DURATION_MS"] = std::to_string(summary.duration.count());
  env["SLUICE_WRITE_BLOCK_MS"] = std::to_string(summary.cut_over.write_block.count());
  hooks_.run("on-success", env);
}

void Controller::failed(ExitCode code, const std::string& message) {
  MigrationStatus status;
  {
    std::lock_guard lock(mutex_);
    latest_.step = code == ExitCode::aborted || code == ExitCode::interrupted ? RunStep::aborted
                                                                              : RunStep::failed;
    status = latest_;
  }
  progress_.event(step_name(status.step), status, message);
  // An abort on request or a signal is what the user asked for, not an error.
  if (status.step == RunStep::failed) {
    ++run_counters_.errors;
  }
  write_metrics(status, 0);
  std::map<std::string, std::string> env = environment("on-failure", status);
  env["SLUICE_ERROR"] = message;
  env["SLUICE_EXIT_CODE"] = std::to_string(static_cast<int>(code));
  hooks_.run("on-failure", env);
}

void Controller::write_metrics(const MigrationStatus& status, double rows_per_second) {
  if (!metrics_) {
    return;
  }
  RunCounters counters = run_counters_;
  const ConnectionTrouble trouble = connection_trouble();
  counters.errors += trouble.errors;
  counters.retries += trouble.retries;
  try {
    metrics_->write(
        render_metrics(status, rows_per_second, counters, std::chrono::system_clock::now()));
    metrics_warned_ = false;
  } catch (const Error& error) {
    if (!metrics_warned_) {
      spdlog::warn("{}; the migration goes on", error.what());
      metrics_warned_ = true;
    }
  }
}

std::string Controller::describe() {
  std::lock_guard lock(mutex_);
  return fmt::format("chunk size: {}; nice ratio: {}; max-load: {}; critical-load: {}",
                     chunk_rows_ ? std::to_string(*chunk_rows_) + " rows (pinned)"
                                 : std::to_string(latest_.chunk_rows) + " rows (by chunk time)",
                     throttler_.nice_ratio(), throttler_.max_load(), throttler_.critical_load());
}

std::string Controller::handle_command(const std::string& line) {
  using Kind = ControlCommand::Kind;
  ControlCommand command;
  try {
    command = parse_control_command(line);
  } catch (const Error& error) {
    return std::string("error: ") + error.what();
  }
  if (command.kind != Kind::status && command.kind != Kind::status_json &&
      command.kind != Kind::help) {
    spdlog::info("control socket: {}", line);
  }
  switch (command.kind) {
    case Kind::help:
      return control_help();
    case Kind::status: {
      std::string answer;
      {
        std::lock_guard lock(mutex_);
        answer = std::string("state: ") + state_name(latest_) + "\n" +
                 status_line(latest_, rate_.rows_per_second()) + "\n";
      }
      return answer + describe();
    }
    case Kind::status_json: {
      nlohmann::ordered_json object;
      {
        std::lock_guard lock(mutex_);
        object = status_json(latest_, rate_.rows_per_second());
        object["chunk_rows_pinned"] =
            chunk_rows_ ? nlohmann::ordered_json(*chunk_rows_) : nlohmann::ordered_json();
      }
      object["nice_ratio"] = throttler_.nice_ratio();
      object["max_load"] = throttler_.max_load();
      object["critical_load"] = throttler_.critical_load();
      const std::optional<milliseconds> max_lag = throttler_.max_lag();
      object["max_lag_millis"] =
          max_lag ? nlohmann::ordered_json(max_lag->count()) : nlohmann::ordered_json();
      object["throttle_query"] = throttler_.throttle_query();
      return object.dump();
    }
    case Kind::throttle:
      throttler_.request_throttle(true);
      return "throttled: the copy pauses after the current chunk until 'no-throttle'";
    case Kind::no_throttle: {
      throttler_.request_throttle(false);
      const std::optional<std::string> still = throttler_.throttle_reason();
      return still ? "the socket no longer throttles, but the copy stays paused: " + *still
                   : "resumed";
    }
    case Kind::chunk_size: {
      std::lock_guard lock(mutex_);
      chunk_rows_ = command.chunk_rows;
      return command.chunk_rows
                 ? "chunk size set to " + std::to_string(*command.chunk_rows) + " rows"
                 : "chunk size follows the chunk time again";
    }
    case Kind::max_load:
      throttler_.set_max_load(command.load);
      return "max-load set to '" + throttler_.max_load() + "'";
    case Kind::critical_load:
      throttler_.set_critical_load(command.load);
      return "critical-load set to '" + throttler_.critical_load() + "'";
    case Kind::nice_ratio:
      throttler_.set_nice_ratio(command.nice_ratio);
      return "nice ratio set to " + fmt::format("{}", command.nice_ratio);
    case Kind::max_lag:
      throttler_.set_max_lag(command.max_lag);
      return command.max_lag ? "max-lag-millis set to " + std::to_string(command.max_lag->count())
                             : std::string("replica lag is no longer checked");
    case Kind::throttle_query:
      throttler_.set_throttle_query(command.throttle_query);
      return command.throttle_query.empty() ? "no throttle query"
                                            : "throttle query set to: " + command.throttle_query;
    case Kind::cut_over:
      throttler_.request_cut_over();
      return "the cut-over no longer waits for the postpone flag file";
    case Kind::panic:
      throttler_.request_panic();
      return "aborting: the shadow table is dropped and the original table is kept";
  }
  return control_help();
}

}  // namespace sluice

#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "src/control_socket.h"
#include "src/error.h"
#include "src/hooks.h"
#include "src/metrics_file.h"
#include "src/migration_control.h"
#include "src/migrator.h"
#include "src/progress.h"
#include "src/throttler.h"

namespace sluice {

struct ControllerSettings {
  ThrottleSettings throttle;
  std::optional<std::uint64_t> chunk_rows;  // --chunk-size: pinned rows per chunk
  std::string socket_path;                  // --serve-socket-file; empty: no socket
  std::string metrics_path;                 // --metrics-file; empty: no metrics file
  ProgressSettings progress;
  std::string hooks_path;
  std::chrono::milliseconds hooks_time_limit{60000};
  // Describes the migration to hooks (SLUICE_TABLE, SLUICE_ALTER, SLUICE_DSN, …).
  std::map<std::string, std::string> hook_environment;
};

// Steers one `sluice alter` run: the Throttler's files and load probes, the control socket,
// progress output, the metrics file and hooks, behind the MigrationControl the Migrator asks.
// The metrics file is written at start, with every status line (each interval and each change
// of phase or state) and at the end. The Migrator's thread calls the MigrationControl methods;
// the socket's thread calls handle_command; the latest status they share is guarded by a mutex.
class Controller : public MigrationControl {
 public:
  // `probe` may be null when no option reads the server's load. Status JSON goes to `out`.
  Controller(ControllerSettings settings, std::unique_ptr<LoadProbe> probe, std::ostream& out);
  ~Controller() override;

  // Writes the metrics file, starts probing and the socket and runs on-startup. Throws Error
  // when a setting is wrong, the metrics file cannot be written, the panic file already exists,
  // the load is already critical, or the on-startup hook fails (nothing has been created yet).
  void start(const std::string& table);
  // The run's end: summary and on-success, or the failure event and on-failure.
  void succeeded(const RebuildSummary& summary);
  void failed(ExitCode code, const std::string& message);

  // Answers one control-socket line (any thread).
  std::string handle_command(const std::string& line);

  void event(MigrationEvent event, const MigrationStatus& status) override;
  void status(const MigrationStatus& status) override;
  void wait_while_throttled(MigrationStatus& status,
                            const std::function<void(bool)>& keep_up) override;
  std::optional<std::uint64_t> chunk_rows() override;
  void wait_for_cut_over(MigrationStatus& status,
                         const std::function<void(bool)>& keep_up) override;
  std::optional<std::string> abort_reason() const override;

 private:
  std::map<std::string, std::string> environment(const std::string& hook,
                                                 const MigrationStatus& status) const;
  std::string describe();
  // Writes the metrics file if there is one; a failure after the start is logged once and the
  // migration goes on (metrics are for watching it, not for steering it).
  void write_metrics(const MigrationStatus& status, double rows_per_second);

  ControllerSettings settings_;
  Throttler throttler_;
  Progress progress_;
  Hooks hooks_;
  std::unique_ptr<ControlSocket> socket_;
  std::chrono::steady_clock::time_point chunk_released_;
  bool copying_ = false;
  std::unique_ptr<MetricsFile> metrics_;
  bool metrics_warned_ = false;
  RunCounters run_counters_;  // without the connection counts, which come from reconnect.h

  mutable std::mutex mutex_;
  MigrationStatus latest_;                   // guarded by mutex_
  RateMeter rate_;                           // guarded by mutex_
  std::optional<std::uint64_t> chunk_rows_;  // guarded by mutex_
};

}  // namespace sluice

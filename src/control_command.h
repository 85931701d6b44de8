#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/throttler.h"

namespace sluice {

// One line a user sends to the control socket.
struct ControlCommand {
  enum class Kind {
    help,
    status,       // `status`: one line for people
    status_json,  // `status json`: one JSON object
    throttle,     // pause the copy until `no-throttle`
    no_throttle,
    chunk_size,      // `chunk-size=N` pins N rows per chunk; `chunk-size=auto` sizes by time again
    max_load,        // `max-load=Threads_running=30,…` replaces the limits (empty: none)
    critical_load,   // `critical-load=…` likewise
    nice_ratio,      // `nice-ratio=0.5`
    max_lag,         // `max-lag-millis=1500` (0: lag no longer checked)
    throttle_query,  // `throttle-query=SELECT …` (empty: none)
    cut_over,        // cut over despite the postpone flag file
    panic,           // abort now, drop the shadow table
  };
  Kind kind = Kind::help;
  std::optional<std::uint64_t> chunk_rows;
  std::vector<LoadThreshold> load;
  double nice_ratio = 0;
  std::optional<std::chrono::milliseconds> max_lag;
  std::string throttle_query;
};

// Parses one line (surrounding blanks and a trailing CR ignored). Throws Error(ExitCode::usage)
// with a sentence to send back for anything else.
ControlCommand parse_control_command(std::string_view line);

// What `help` answers: the command list.
std::string control_help();

}  // namespace sluice

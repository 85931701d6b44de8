#include "src/control_command.h"

#include <charconv>

#include "src/error.h"

namespace sluice {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

ControlCommand parse_control_command(std::string_view line) {
  using Kind = ControlCommand::Kind;
  line = trim(line);
  // The SQL of throttle-query= may contain '=' itself: only the first one separates.
  const auto equals = line.find('=');
  const std::string_view name = trim(line.substr(0, equals));
  const std::string_view argument =
      equals == std::string_view::npos ? std::string_view() : trim(line.substr(equals + 1));
  ControlCommand command;
  if (equals == std::string_view::npos) {
    if (line == "help" || line == "?") {
      command.kind = Kind::help;
    } else if (line == "status" || line == "sup") {
      command.kind = Kind::status;
    } else if (line == "status json") {
      command.kind = Kind::status_json;
    } else if (line == "throttle") {
      command.kind = Kind::throttle;
    } else if (line == "no-throttle" || line == "resume") {
      command.kind = Kind::no_throttle;
    } else if (line == "cut-over" || line == "unpostpone") {
      command.kind = Kind::cut_over;
    } else if (line == "panic") {
      command.kind = Kind::panic;
    } else {
      throw Error(ExitCode::usage,
                  "unknown command '" + std::string(line) + "'; send 'help' for the list");
    }
    return command;
  }
  if (name == "chunk-size") {
    command.kind = Kind::chunk_size;
    if (argument != "auto") {
      const std::optional<std::uint64_t> rows = parse_number<std::uint64_t>(argument);
      if (!rows || *rows == 0) {
        throw Error(ExitCode::usage, "chunk-size takes a positive number of rows or 'auto'");
      }
      command.chunk_rows = rows;
    }
  } else if (name == "max-load" || name == "critical-load") {
    command.kind = name == "max-load" ? Kind::max_load : Kind::critical_load;
    command.load = parse_load_thresholds(argument, name);
  } else if (name == "nice-ratio") {
    command.kind = Kind::nice_ratio;
    const std::optional<double> ratio = parse_number<double>(argument);
    if (!ratio || *ratio < 0 || *ratio > 100) {
      throw Error(ExitCode::usage, "nice-ratio takes a number from 0 to 100, e.g. 0.5");
    }
    command.nice_ratio = *ratio;
  } else if (name == "max-lag-millis") {
    command.kind = Kind::max_lag;
    const std::optional<std::uint64_t> millis = parse_number<std::uint64_t>(argument);
    if (!millis) {
      throw Error(ExitCode::usage, "max-lag-millis takes milliseconds (0: do not check lag)");
    }
    if (*millis > 0) {
      command.max_lag = std::chrono::milliseconds(*millis);
    }
  } else if (name == "throttle-query") {
    command.kind = Kind::throttle_query;
    command.throttle_query = std::string(argument);
  } else {
    throw Error(ExitCode::usage,
                "unknown command '" + std::string(name) + "='; send 'help' for the list");
  }
  return command;
}

std::string control_help() {
  return "commands (one per connection):\n"
         "  status              where the migration stands, for people\n"
         "  status json         the same as one JSON object\n"
         "  throttle            pause the copy (the change stream is still read)\n"
         "  no-throttle         end a pause started by 'throttle'\n"
         "  chunk-size=N        copy N rows per chunk; chunk-size=auto sizes by --chunk-time\n"
         "  max-load=NAME=N,…   replace the --max-load limits (max-load= removes them)\n"
         "  critical-load=…     replace the --critical-load limits\n"
         "  nice-ratio=R        sleep R times each chunk's duration after it\n"
         "  max-lag-millis=MS   replace --max-lag-millis (0: do not check lag)\n"
         "  throttle-query=SQL  replace --throttle-query (throttle-query= removes it)\n"
         "  cut-over            cut over even though the postpone flag file exists\n"
         "  panic               abort now: drop the shadow table, keep the original\n";
}

}  // namespace sluice

#include "src/mysql/mysql_replica_lag.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

namespace sluice::mysql {
namespace {

template <typename Number>
Number number(std::string_view text, std::string_view whole) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument("'" + std::string(whole) + "' is not a GTID position");
  }
  return value;
}

}  // namespace

GtidPosition parse_gtid_position(std::string_view text) {
  GtidPosition position;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view gtid = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    // SHOW-style output may wrap after a comma.
    while (!gtid.empty() && (gtid.front() == ' ' || gtid.front() == '\n')) {
      gtid.remove_prefix(1);
    }
    if (gtid.empty()) {
      continue;
    }
    const std::size_t first = gtid.find('-');
    const std::size_t last = gtid.rfind('-');
    if (first == std::string_view::npos || first == last) {
      throw std::invalid_argument("'" + std::string(text) + "' is not a GTID position");
    }
    const auto domain = number<std::uint32_t>(gtid.substr(0, first), text);
    number<std::uint32_t>(gtid.substr(first + 1, last - first - 1), text);  // the server id
    const auto sequence = number<std::uint64_t>(gtid.substr(last + 1), text);
    std::uint64_t& highest = position[domain];
    highest = std::max(highest, sequence);
  }
  return position;
}

bool reached(const GtidPosition& replica, const GtidPosition& primary) {
  for (const auto& [domain, sequence] : primary) {
    const auto found = replica.find(domain);
    if (found == replica.end() || found->second < sequence) {
      return false;
    }
  }
  return true;
}

void GtidLagClock::sample(Clock::time_point at, GtidPosition primary) {
  samples_.emplace_back(at, std::move(primary));
  if (samples_.size() > kMaxSamples) {
    samples_.pop_front();
  }
}

std::chrono::milliseconds GtidLagClock::lag(const GtidPosition& replica,
                                            Clock::time_point now) const {
  for (const auto& [at, primary] : samples_) {
    if (!reached(replica, primary)) {
      return std::max(std::chrono::milliseconds(0),
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - at));
    }
  }
  return std::chrono::milliseconds(0);
}

void GtidLagClock::forget_reached(const std::vector<GtidPosition>& replicas) {
  const auto all_reached = [&replicas](const GtidPosition& primary) {
    for (const GtidPosition& replica : replicas) {
      if (!reached(replica, primary)) {
        return false;
      }
    }
    return true;
  };
  while (samples_.size() > 1 && all_reached(samples_.front().second)) {
    samples_.pop_front();
  }
}

}  // namespace sluice::mysql

#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::mysql {

// A MariaDB GTID position ("0-1-1234,1-2-17", as @@gtid_binlog_pos and @@gtid_slave_pos print
// it) reduced to the highest sequence number per replication domain. Sequence numbers grow
// within a domain whichever server wrote them, so positions compare domain by domain.
using GtidPosition = std::map<std::uint32_t, std::uint64_t>;

// Parses a GTID position; throws std::invalid_argument on text that is not one.
GtidPosition parse_gtid_position(std::string_view text);

// True when `replica` has applied everything `primary` holds, in every domain of `primary`.
bool reached(const GtidPosition& replica, const GtidPosition& primary);

// Replica lag measured without writing anything: the primary's position is sampled at each
// probe, and a replica that has not applied the position sampled at time t is behind by at
// least now - t. The lag reported is that lower bound (off by at most one probe interval),
// so a replica applying promptly never reads as lagging, and it works where
// Seconds_Behind_Master cannot: with the replica's SQL thread stopped (NULL there) or on an idle
// replica whose relay log is empty.
class GtidLagClock {
 public:
  using Clock = std::chrono::steady_clock;

  // Records the primary's position at `at`; samples are expected in time order.
  void sample(Clock::time_point at, GtidPosition primary);

  // The lag of a replica at `replica` as of `now`: zero when it has reached the newest sample,
  // else now minus the time of the oldest sample it has not reached.
  std::chrono::milliseconds lag(const GtidPosition& replica, Clock::time_point now) const;

  // Forgets the samples every one of `replicas` has reached, keeping the newest; call after
  // reading them all.
  void forget_reached(const std::vector<GtidPosition>& replicas);

 private:
  // Bounds the memory of a replica that never catches up (about an hour of 1 s probes).
  static constexpr std::size_t kMaxSamples = 4096;
  std::deque<std::pair<Clock::time_point, GtidPosition>> samples_;
};

}  // namespace sluice::mysql

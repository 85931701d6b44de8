// The MariaDB replica lag measured from GTID positions (src/mysql/mysql_replica_lag.h).
#include "src/mysql/mysql_replica_lag.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace std::chrono_literals;
using sluice::mysql::GtidLagClock;
using sluice::mysql::GtidPosition;
using sluice::mysql::parse_gtid_position;
using sluice::mysql::reached;

TEST_CASE("GTID positions parse to the highest sequence number per domain") {
  CHECK(parse_gtid_position("").empty());
  CHECK(parse_gtid_position("0-1-1234") == GtidPosition{{0, 1234}});
  CHECK(parse_gtid_position("0-1-5,1-2-17,\n0-3-9") == GtidPosition{{0, 9}, {1, 17}});
  CHECK_THROWS_AS(parse_gtid_position("0-1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_gtid_position("a-1-2"), std::invalid_argument);
  CHECK_THROWS_AS(parse_gtid_position("0-1-"), std::invalid_argument);
}

TEST_CASE("a replica reaches a position when every domain of it is applied") {
  CHECK(reached(parse_gtid_position("0-1-10"), parse_gtid_position("0-1-10")));
  CHECK(reached(parse_gtid_position("0-1-11,1-1-1"), parse_gtid_position("0-1-10")));
  CHECK_FALSE(reached(parse_gtid_position("0-1-9"), parse_gtid_position("0-1-10")));
  CHECK_FALSE(reached(parse_gtid_position("0-1-10"), parse_gtid_position("0-1-10,1-1-1")));
  CHECK(reached({}, {}));
}

TEST_CASE("the lag is the age of the oldest sample the replica has not applied") {
  GtidLagClock clock;
  const auto t0 = GtidLagClock::Clock::now();
  clock.sample(t0, parse_gtid_position("0-1-10"));
  clock.sample(t0 + 1s, parse_gtid_position("0-1-20"));
  clock.sample(t0 + 2s, parse_gtid_position("0-1-30"));
  // Caught up with the newest sample: not behind, however old the samples are.
  CHECK(clock.lag(parse_gtid_position("0-1-30"), t0 + 2s) == 0ms);
  // Stopped at 15 (between the first and second sample): behind at least since t0 + 1 s.
  CHECK(clock.lag(parse_gtid_position("0-1-15"), t0 + 2500ms) == 1500ms);
  // Behind every sample: at least as old as the oldest one.
  CHECK(clock.lag(parse_gtid_position("0-1-3"), t0 + 2s) == 2000ms);
  // An idle primary (no new position) shows a caught-up replica as not behind.
  clock.sample(t0 + 3s, parse_gtid_position("0-1-30"));
  CHECK(clock.lag(parse_gtid_position("0-1-30"), t0 + 3s) == 0ms);
}

TEST_CASE("samples every replica applied are forgotten, the newest is kept") {
  GtidLagClock clock;
  const auto t0 = GtidLagClock::Clock::now();
  clock.sample(t0, parse_gtid_position("0-1-10"));
  clock.sample(t0 + 1s, parse_gtid_position("0-1-20"));
  clock.forget_reached({parse_gtid_position("0-1-20"), parse_gtid_position("0-1-12")});
  // The sample at t0 is gone (both applied it); the slower replica is still behind t0 + 1 s.
  CHECK(clock.lag(parse_gtid_position("0-1-12"), t0 + 3s) == 2000ms);
  clock.forget_reached({parse_gtid_position("0-1-20")});
  CHECK(clock.lag(parse_gtid_position("0-1-20"), t0 + 3s) == 0ms);
  CHECK(clock.lag(parse_gtid_position("0-1-19"), t0 + 3s) == 2000ms);
}

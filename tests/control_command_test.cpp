#include "src/control_command.h"

#include <doctest/doctest.h>

#include "src/error.h"

using sluice::ControlCommand;
using sluice::parse_control_command;
using Kind = ControlCommand::Kind;

TEST_CASE("every control command parses") {
  CHECK(parse_control_command("status").kind == Kind::status);
  CHECK(parse_control_command("  status json\r\n").kind == Kind::status_json);
  CHECK(parse_control_command("throttle").kind == Kind::throttle);
  CHECK(parse_control_command("no-throttle").kind == Kind::no_throttle);
  CHECK(parse_control_command("cut-over").kind == Kind::cut_over);
  CHECK(parse_control_command("unpostpone").kind == Kind::cut_over);
  CHECK(parse_control_command("panic").kind == Kind::panic);
  CHECK(parse_control_command("help").kind == Kind::help);

  const ControlCommand chunk = parse_control_command("chunk-size=2000");
  CHECK(chunk.kind == Kind::chunk_size);
  CHECK(chunk.chunk_rows == 2000u);
  CHECK_FALSE(parse_control_command("chunk-size = auto").chunk_rows);

  const ControlCommand load =
      parse_control_command("max-load=Threads_running=30,Threads_connected=9");
  CHECK(load.kind == Kind::max_load);
  REQUIRE(load.load.size() == 2);
  CHECK(load.load[0].name == "Threads_running");
  CHECK(load.load[0].limit == 30);
  CHECK(parse_control_command("max-load=").load.empty());
  CHECK(parse_control_command("critical-load=Threads_running=200").kind == Kind::critical_load);

  const ControlCommand lag = parse_control_command("max-lag-millis=1500");
  CHECK(lag.kind == Kind::max_lag);
  CHECK(lag.max_lag == std::chrono::milliseconds(1500));
  CHECK_FALSE(parse_control_command("max-lag-millis=0").max_lag);

  const ControlCommand query =
      parse_control_command("throttle-query=SELECT COUNT(*) FROM jobs WHERE state = 'busy'");
  CHECK(query.kind == Kind::throttle_query);
  CHECK(query.throttle_query == "SELECT COUNT(*) FROM jobs WHERE state = 'busy'");
  CHECK(parse_control_command("throttle-query=").throttle_query.empty());

  const ControlCommand nice = parse_control_command("nice-ratio=0.25");
  CHECK(nice.kind == Kind::nice_ratio);
  CHECK(nice.nice_ratio == 0.25);
}

TEST_CASE("malformed control commands are refused with a sentence") {
  for (const char* bad :
       {"", "stats", "chunk-size=0", "chunk-size=-5", "chunk-size=many", "nice-ratio=-1",
        "nice-ratio=x", "max-lag-millis=soon", "max-load=Threads_running", "speed=3"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_control_command(bad), sluice::Error);
  }
}

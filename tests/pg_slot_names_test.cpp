// Names and LSN text of sluice's PostgreSQL slots: pure helpers, no server.
#include <doctest/doctest.h>

#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"

using sluice::replication::StreamError;
using namespace sluice::replication::postgres;

TEST_CASE("slot and publication names carry the sluice_ prefix and only slot-safe characters") {
  CHECK(sluice_object_name("orders_42") == "sluice_orders_42");
  CHECK(sluice_object_name(std::string(56, 'a')).size() == 63);
  CHECK_THROWS_AS(sluice_object_name(std::string(57, 'a')), StreamError);
  CHECK_THROWS_AS(sluice_object_name(""), StreamError);
  CHECK_THROWS_AS(sluice_object_name("Orders"), StreamError);
  CHECK_THROWS_AS(sluice_object_name("a\"; DROP"), StreamError);
}

TEST_CASE("LSNs round-trip through their text form") {
  CHECK(parse_lsn("0/0") == 0);
  CHECK(parse_lsn("16/B374D848") == 0x16B374D848ull);
  CHECK(format_lsn(0x16B374D848ull) == "16/B374D848");
  CHECK(format_lsn(parse_lsn("FFFFFFFF/FFFFFFFF")) == "FFFFFFFF/FFFFFFFF");
  for (const char* bad : {"", "/", "1/", "/1", "x/1", "1/2/3", "1 /2", "100000000/0"}) {
    CHECK_THROWS_AS(parse_lsn(bad), StreamError);
  }
}

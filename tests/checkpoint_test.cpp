#include "src/checkpoint.h"

#include <doctest/doctest.h>

#include "src/error.h"

using sluice::Checkpoint;
using sluice::replication::Value;
using sluice::replication::ValueKind;

TEST_CASE("a checkpoint survives its JSON form, binary and multi-byte keys included") {
  Checkpoint checkpoint;
  checkpoint.watermark = sluice::replication::Row{
      Value{ValueKind::number, "-42"}, Value{ValueKind::binary, std::string("\x00\xff\"\\", 4)},
      Value{ValueKind::temporal, "2024-05-01 10:11:12.123456"},
      Value{ValueKind::text, "\xc3\xa4 \xf0\x9f\x98\x80"},
      // latin1 'Ä' (not UTF-8): character keys keep the bytes of the column's character set.
      Value{ValueKind::text, "\xc4"}};
  checkpoint.position = {"bin.000007", 1234567890123, "0-1-77", 0};
  CHECK(sluice::checkpoint_from_json(sluice::to_json(checkpoint)) == checkpoint);

  Checkpoint fresh;
  fresh.position.lsn = 0x16B3748;
  const Checkpoint back = sluice::checkpoint_from_json(sluice::to_json(fresh));
  CHECK_FALSE(back.watermark);
  CHECK(back == fresh);
}

TEST_CASE("a snapshot copy's checkpoint says whether the copy is complete") {
  Checkpoint done;
  done.copied = true;
  CHECK(sluice::checkpoint_from_json(sluice::to_json(done)) == done);
  // A checkpoint written before the field existed, or by a key-range copy, is not complete.
  const Checkpoint older = sluice::checkpoint_from_json(
      R"({"watermark":null,"position":{"file":"","offset":0,"gtid":"","lsn":5}})");
  CHECK_FALSE(older.copied);
  CHECK(sluice::to_json(older).find("copied") == std::string::npos);
}

TEST_CASE("a switched run's revert point is told apart from its last checkpoint") {
  Checkpoint point;
  point.position = {"bin.000004", 1234, "", 0};
  point.copied = true;
  point.revert_point = true;
  CHECK(sluice::checkpoint_from_json(sluice::to_json(point)) == point);
  // A PostgreSQL run's last checkpoint after its copy is complete, yet no revert point.
  const Checkpoint last = sluice::checkpoint_from_json(
      R"({"watermark":null,"position":{"file":"","offset":0,"gtid":"","lsn":5},"copied":true})");
  CHECK(last.copied);
  CHECK_FALSE(last.revert_point);
}

TEST_CASE("a damaged checkpoint is refused with a clear error") {
  CHECK_THROWS_AS(sluice::checkpoint_from_json("{\"watermark\": null}"), sluice::Error);
  CHECK_THROWS_AS(sluice::checkpoint_from_json("not json"), sluice::Error);
  CHECK_THROWS_AS(
      sluice::checkpoint_from_json(R"({"watermark":[{"kind":"bogus","hex":false,"value":"1"}],)"
                                   R"("position":{"file":"","offset":0,"gtid":"","lsn":0}})"),
      sluice::Error);
}

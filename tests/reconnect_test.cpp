// Retrying a unit of work after a lost connection (src/reconnect.h), without a server.
#include "src/reconnect.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using sluice::ConnectionLost;
using sluice::Error;
using sluice::ExitCode;
using sluice::ReconnectPolicy;
using sluice::retry_on_connection_loss;
using std::chrono::milliseconds;

namespace {

ReconnectPolicy quick(milliseconds give_up_after) {
  ReconnectPolicy policy;
  policy.first_pause = milliseconds(1);
  policy.longest_pause = milliseconds(4);
  policy.give_up_after = give_up_after;
  return policy;
}

}  // namespace

TEST_CASE("a unit that lost its connection is redone after a reconnect") {
  int attempts = 0;
  int reconnects = 0;
  const int result = retry_on_connection_loss(
      "a chunk", quick(milliseconds(5000)), [&] { ++reconnects; },
      [&] {
        if (++attempts < 3) {
          throw ConnectionLost("session killed");
        }
        return 42;
      });
  CHECK(result == 42);
  CHECK(attempts == 3);
  CHECK(reconnects == 2);
}

TEST_CASE("a reconnect that cannot reach the server counts as another failed attempt") {
  int reconnects = 0;
  int attempts = 0;
  retry_on_connection_loss(
      "a batch", quick(milliseconds(5000)),
      [&] {
        if (++reconnects < 3) {
          throw Error(ExitCode::connection, "cannot connect: server restarting");
        }
      },
      [&] {
        if (++attempts == 1) {
          throw ConnectionLost("server shut down");
        }
      });
  CHECK(reconnects == 3);
  CHECK(attempts == 2);
}

TEST_CASE("other failures are not retried") {
  int attempts = 0;
  CHECK_THROWS_AS(retry_on_connection_loss(
                      "a chunk", quick(milliseconds(5000)), [] {},
                      [&] {
                        ++attempts;
                        throw Error(ExitCode::failure, "duplicate key");
                      }),
                  Error);
  CHECK(attempts == 1);
}

TEST_CASE("after the policy's time the run gives up with a connection error naming the unit") {
  try {
    retry_on_connection_loss(
        "copying a chunk", quick(milliseconds(30)), [] {},
        [] { throw ConnectionLost("server gone"); });
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::connection);
    const std::string message = error.what();
    CHECK(message.find("during copying a chunk") != std::string::npos);
    CHECK(message.find("server gone") != std::string::npos);
  }
}

TEST_CASE("a stop request ends the back-off wait at once with an interruption") {
  ReconnectPolicy policy;
  policy.first_pause = std::chrono::hours(1);
  policy.longest_pause = std::chrono::hours(1);
  policy.give_up_after = std::chrono::hours(10);
  std::atomic<bool> stop{false};
  policy.stop = &stop;
  // Set while the back-off waits (or before: the outcome is the same).
  std::thread signal([&] {
    std::this_thread::sleep_for(milliseconds(100));
    stop = true;
  });
  int attempts = 0;
  try {
    retry_on_connection_loss(
        "copying a chunk", policy, [] {},
        [&] {
          ++attempts;
          throw ConnectionLost("server gone");
        });
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::interrupted);
    CHECK(std::string(error.what()).find("during copying a chunk") != std::string::npos);
  }
  signal.join();
  CHECK(attempts == 1);
}

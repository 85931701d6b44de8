// Telling a lease's dead runner from a live one (src/phase_store.h), without a server.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "src/phase_store.h"

namespace {

// The "host:pid" name of a process of this host that has exited and been reaped.
std::string exited_runner() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string here = sluice::this_runner();
  return here.substr(0, here.rfind(':') + 1) + std::to_string(child);
}

}  // namespace

TEST_CASE("a runner of this host whose process is gone is gone; others are not") {
  const std::string dead = exited_runner();
  CHECK(sluice::runner_is_gone(dead));
  CHECK_FALSE(sluice::runner_is_gone(sluice::this_runner()));
  // Another host's runner cannot be seen from here, so it is never taken for dead.
  CHECK_FALSE(
      sluice::runner_is_gone("some-other-host.example:" + dead.substr(dead.rfind(':') + 1)));
  CHECK_FALSE(sluice::runner_is_gone(""));
  CHECK_FALSE(sluice::runner_is_gone(dead + "x"));

  sluice::MigrationRecord record;
  record.owner = dead;
  record.lease_alive = true;
  CHECK_FALSE(sluice::lease_held(record));
  record.owner = sluice::this_runner();
  CHECK(sluice::lease_held(record));
  record.lease_alive = false;
  CHECK_FALSE(sluice::lease_held(record));
}

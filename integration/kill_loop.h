#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/dsn.h"

namespace sluice::test {

// What the kill -9 loop needs from one server: the same trial runs on MariaDB and PostgreSQL.
struct KillLoopServer {
  ServerKind kind = ServerKind::mysql;
  std::string dsn;
  std::string alter;  // an ALTER that makes sluice copy the table
  int rows = 0;
  // Creates `table` and its twin with `rows` rows.
  std::function<void(const std::string& table, int rows)> create_table;
  // Starts the application stand-in on `table` (and its twin); the returned object stops it on
  // destruction.
  struct Writer {
    virtual ~Writer() = default;
    virtual void stop() = 0;  // rethrows the writer's first unexpected error
    virtual std::uint64_t transactions() const = 0;
  };
  std::function<std::unique_ptr<Writer>(const std::string& table)> start_writer;
  // Checks (doctest CHECKs) that `table` equals its twin row for row.
  std::function<void(const std::string& table)> check_equal;
  // What sluice left next to `table` ("" when nothing): shadow table, sentry, slot, publication.
  std::function<std::string(const std::string& table)> leftovers;
};

// The number of trials per server: a handful, or 20 with SLUICE_LONG_SUITE=1.
int kill_loop_trials();

// One trial: `sluice alter` on a fresh table under writes, SIGKILLed at a random moment of the
// step `trial` selects (copy, verification, cut-over, just after the swap), then `--resume`d
// (itself killed at random now and then) until the migration is done. Checks that the original
// table stays readable and writable after every kill, that the result equals the source row for
// row, and that nothing is left behind.
void kill_loop_trial(const KillLoopServer& server, int trial, std::uint64_t seed);

}  // namespace sluice::test

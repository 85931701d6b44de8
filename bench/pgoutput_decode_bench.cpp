// Decoded row changes per second from a real logical replication slot: starts a private
// PostgreSQL 15 (scripts/dbs), queues N row changes (default 1,000,000, in transactions of 1,000
// inserts) in a pgoutput slot, then times how long PgOutputStream takes to drain and decode
// them, confirming each transaction as the engine would. Then times the decoder alone on the
// same number of insert messages built in memory, to show how much of the drain is sluice's.
//
//   build/bench/pgoutput_decode_bench [changes]
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "replication/postgres/pg_session.h"
#include "replication/postgres/pgoutput_client.h"
#include "replication/postgres/pgoutput_decoder.h"
#include "replication/postgres/slot_manager.h"

namespace pg = sluice::replication::postgres;

namespace {

std::string run(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) {
    throw std::runtime_error("popen failed");
  }
  std::string output;
  std::array<char, 4096> buffer;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) {
    output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(command + " failed: " + output);
  }
  return output;
}

// A throwaway server in its own state directory, stopped on destruction.
class Server {
 public:
  Server() {
    std::array<char, 64> dir{};
    std::snprintf(dir.data(), dir.size(), "/tmp/sluice-bench-XXXXXX");
    if (!mkdtemp(dir.data())) {
      throw std::runtime_error("mkdtemp failed");
    }
    state_ = dir.data();
    const std::string output = run("SLUICE_DBS_DIR='" + state_ +
                                   "' " SLUICE_SOURCE_DIR "/scripts/dbs start --only postgres");
    const std::string key = "SLUICE_TEST_PG_DSN='";
    std::size_t at = output.find(key);
    if (at == std::string::npos) {
      throw std::runtime_error("scripts/dbs printed no DSN: " + output);
    }
    at += key.size();
    dsn_ = output.substr(at, output.find('\'', at) - at);
  }
  ~Server() {
    try {
      run("SLUICE_DBS_DIR='" + state_ + "' " SLUICE_SOURCE_DIR "/scripts/dbs stop");
    } catch (const std::exception& error) {
      std::cerr << error.what() << '\n';
    }
  }
  const std::string& dsn() const { return dsn_; }

 private:
  std::string state_;
  std::string dsn_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void put(std::string& out, std::uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out += static_cast<char>((value >> shift) & 0xff);
  }
}

void put_text(std::string& out, const std::string& text) {
  out += 't';
  put(out, text.size(), 4);
  out += text;
}

// Feeds `changes` insert messages of the bench table's shape (in transactions of
// `per_transaction`) to the decoder and returns the seconds it took.
double decode_in_memory(long changes, long per_transaction) {
  std::string relation = "R";
  put(relation, 16384, 4);
  relation += std::string("public\0bench\0", 13);
  relation += 'd';
  put(relation, 4, 2);
  const std::pair<const char*, std::uint32_t> columns[] = {
      {"id", 23}, {"n", 23}, {"note", 25}, {"at", 1184}};
  for (const auto& [name, type] : columns) {
    relation += static_cast<char>(std::string(name) == "id" ? 1 : 0);
    relation += name;
    relation += '\0';
    put(relation, type, 4);
    put(relation, 0xffffffff, 4);
  }
  std::vector<std::string> inserts;
  for (long i = 0; i < per_transaction; ++i) {
    std::string insert = "I";
    put(insert, 16384, 4);
    insert += 'N';
    put(insert, 4, 2);
    put_text(insert, std::to_string(i + 1));
    put_text(insert, std::to_string(i + 1));
    put_text(insert, "c4ca4238a0b923820dcc509a6f75849b");
    put_text(insert, "2026-11-23 22:38:47.123456+00");
    inserts.push_back(std::move(insert));
  }
  pg::PgOutputDecoder decoder;
  decoder.feed(relation);
  long decoded = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t lsn = 1; decoded < changes; ++lsn) {
    std::string begin = "B";
    put(begin, lsn, 8);
    put(begin, 0, 8);
    put(begin, 1, 4);
    decoder.feed(begin);
    for (const std::string& insert : inserts) {
      decoder.feed(insert);
    }
    std::string commit = "C";
    commit += '\0';
    put(commit, lsn, 8);
    put(commit, lsn + 1, 8);
    put(commit, 0, 8);
    decoded += static_cast<long>(decoder.feed(commit)->transaction.changes.size());
  }
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  const long changes = argc > 1 ? std::stol(argv[1]) : 1'000'000;
  const long per_transaction = 1000;
  try {
    Server server;
    const pg::ConnectionParams params{server.dsn(), std::nullopt};
    {
      pg::Session sql(params, pg::Session::Mode::sql);
      sql.query("CREATE TABLE bench (id int PRIMARY KEY, n int, note text, at timestamptz)");
    }
    pg::Publication publication(params, "bench", {{"public", "bench"}});
    pg::ReplicationSlot slot(params, "bench", /*export_snapshot=*/false);

    auto queue_start = std::chrono::steady_clock::now();
    {
      pg::Session sql(params, pg::Session::Mode::sql);
      sql.query(
          "DO $$ BEGIN FOR i IN 0.." + std::to_string(changes / per_transaction - 1) +
          " LOOP INSERT INTO bench SELECT g, g, md5(g::text), now() FROM generate_series(i * " +
          std::to_string(per_transaction) + " + 1, (i + 1) * " + std::to_string(per_transaction) +
          ") g; COMMIT; END LOOP; END $$");
    }
    std::cout << "queued " << changes << " row changes in " << seconds_since(queue_start) << " s\n";
    for (const pg::SlotStatus& status : pg::list_sluice_slots(params)) {
      std::cout << "slot " << status.name << " retains " << (status.retained_bytes >> 20)
                << " MB of WAL\n";
    }

    rusage usage_start{};
    getrusage(RUSAGE_SELF, &usage_start);
    const auto start = std::chrono::steady_clock::now();
    long decoded = 0;
    long transactions = 0;
    {
      pg::StreamOptions options;
      options.slot = slot.name();
      options.publication = publication.name();
      pg::PgOutputStream stream(params, options);
      while (decoded < changes) {
        std::optional<sluice::replication::Transaction> transaction =
            stream.next(std::chrono::seconds(30));
        if (!transaction) {
          throw std::runtime_error("no transaction within 30 s after " + std::to_string(decoded) +
                                   " changes");
        }
        decoded += static_cast<long>(transaction->changes.size());
        transactions += transaction->changes.empty() ? 0 : 1;
        stream.confirm(transaction->commit_position);
      }
    }
    const double wall = seconds_since(start);
    rusage usage_end{};
    getrusage(RUSAGE_SELF, &usage_end);
    auto elapsed = [](const timeval& from, const timeval& to) {
      return static_cast<double>(to.tv_sec - from.tv_sec) +
             static_cast<double>(to.tv_usec - from.tv_usec) / 1e6;
    };
    const double user = elapsed(usage_start.ru_utime, usage_end.ru_utime);
    const double system = elapsed(usage_start.ru_stime, usage_end.ru_stime);
    const double cpu = user + system;
    std::cout << "drained " << decoded << " row changes in " << transactions << " transactions in "
              << wall << " s: " << static_cast<long>(decoded / wall) << " changes/s (client CPU "
              << user << " s user + " << system << " s system, " << static_cast<long>(decoded / cpu)
              << " changes per client CPU second)\n";
    const double alone = decode_in_memory(changes, per_transaction);
    std::cout << "decoder alone: " << changes << " insert messages in " << alone
              << " s: " << static_cast<long>(changes / alone) << " changes/s\n";
  } catch (const std::exception& error) {
    std::cerr << "pgoutput_decode_bench: " << error.what() << '\n';
    return 1;
  }
  return 0;
}

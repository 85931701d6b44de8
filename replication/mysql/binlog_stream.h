#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "replication/change_stream.h"
#include "replication/mysql/binlog_decoder.h"

namespace sluice::replication::mysql {

// How to reach the server as a replica. Kept apart from the engine's DSN type so replication/
// depends on nothing above it.
struct BinlogConnectionOptions {
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string socket;  // Unix socket path instead of TCP when set
  std::string user;
  std::optional<std::string> password;  // never logged, never part of an error message
  // The replica id this stream registers with. Must be non-zero and unique among the server's
  // replicas: a second dump with the same id makes the server end the first. 0 derives one
  // from the process id and a random number, different from the server's own id.
  std::uint32_t server_id = 0;
  // The server sends a heartbeat after this much idle time; it bounds how long next() can
  // overrun its timeout and how soon a silent, dead connection is noticed.
  std::chrono::milliseconds heartbeat_period{500};
  // After a dropped connection, keep trying to reconnect this long before giving up.
  std::chrono::seconds reconnect_timeout{60};
};

// A ChangeStream over a MySQL/MariaDB binlog dump connection (libmariadb's mariadb_rpl_*).
// Starts at `start`: a binlog file and offset at a transaction boundary, or, with an empty file
// and a MariaDB GTID, just after that GTID. Requests checksums as the server writes them and
// verifies them. After a dropped connection or a server restart it reconnects at the end of the
// last transaction it decoded completely, so nothing is lost and nothing is delivered twice.
// Throws StreamError when the wanted binlog file is gone (purged), the login is refused, the
// user lacks REPLICATION SLAVE, another replica takes over the server id, or reconnecting fails
// for longer than `reconnect_timeout`.
class BinlogStream : public ChangeStream {
 public:
  BinlogStream(BinlogConnectionOptions connection, DecoderOptions decoder, const Position& start);
  ~BinlogStream() override;
  BinlogStream(const BinlogStream&) = delete;
  BinlogStream& operator=(const BinlogStream&) = delete;

  // Returns the next committed transaction with changes to the selected tables. When nothing
  // arrives within `timeout` but the read position moved (other tables' commits, heartbeats),
  // returns an empty transaction reporting that position; otherwise nullopt.
  std::optional<Transaction> next(std::chrono::milliseconds timeout) override;

  // Records what the caller has durably applied. The binlog keeps no replica state, so this
  // only matters to confirmed_position().
  void confirm(const Position& position) override;

  const Position& confirmed_position() const { return confirmed_; }
  // The end of the last transaction delivered (or reported as progress).
  const Position& resume_position() const { return decoder_.resume_position(); }
  std::uint32_t server_id() const { return server_id_; }

 private:
  struct Session;

  void connect();
  void disconnect();
  [[noreturn]] void fail_fatal(unsigned code, const std::string& message);

  BinlogConnectionOptions options_;
  BinlogDecoder decoder_;
  std::uint32_t server_id_ = 0;
  Position confirmed_;
  std::unique_ptr<Session> session_;
  std::optional<std::chrono::steady_clock::time_point> disconnected_since_;
  std::optional<Position> unreported_progress_;
};

// A replica server id for this process: derived from the pid and a random number, never 0 and
// never `avoid` (the server's own id).
std::uint32_t derive_server_id(std::uint32_t avoid);

}  // namespace sluice::replication::mysql

#include "replication/mysql/binlog_stream.h"

// mysql.h must come first: mariadb_rpl.h relies on its declarations.
// clang-format off
#include <mysql.h>
#include <mariadb_rpl.h>
// clang-format on
#include <errmsg.h>
#include <mysqld_error.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "replication/stream_error.h"

namespace sluice::replication::mysql {
namespace {

constexpr unsigned kConnectTimeoutSeconds = 10;
constexpr std::chrono::milliseconds kReconnectPause{200};
// MariaDB: the replica understands GTID and annotate events (else they become dummy QUERYs).
constexpr const char* kSlaveCapability = "SET @mariadb_slave_capability = 4";

std::string where(const BinlogConnectionOptions& options) {
  return options.socket.empty() ? options.host + ":" + std::to_string(options.port)
                                : options.socket;
}

// Client-side errors and server shutdowns are worth a reconnect; everything else is final.
bool transient(unsigned code) {
  return (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR) || code == ER_SERVER_SHUTDOWN ||
         code == ER_CONNECTION_KILLED || code == 0;
}

// A connection attempt that failed for a reason that may pass (server down or restarting).
class TransientConnectError : public StreamDisconnected {
 public:
  using StreamDisconnected::StreamDisconnected;
};

}  // namespace

std::uint32_t derive_server_id(std::uint32_t avoid) {
  std::random_device random;
  for (;;) {
    const std::uint32_t mixed =
        (static_cast<std::uint32_t>(getpid()) * 2654435761u) ^ static_cast<std::uint32_t>(random());
    // Stay in the upper half of the id space, away from the small ids DBAs hand out by hand.
    const std::uint32_t id = 0x80000000u | (mixed & 0x7fffffffu);
    if (id != avoid) {
      return id;
    }
  }
}

struct BinlogStream::Session {
  MYSQL* mysql = nullptr;
  MARIADB_RPL* rpl = nullptr;
  MARIADB_RPL_EVENT* event = nullptr;

  ~Session() {
    if (event) {
      mariadb_free_rpl_event(event);
    }
    if (rpl) {
      mariadb_rpl_close(rpl);
    }
    if (mysql) {
      mysql_close(mysql);
    }
  }
};

BinlogStream::BinlogStream(BinlogConnectionOptions connection, DecoderOptions decoder,
                           const Position& start)
    : options_(std::move(connection)), decoder_(std::move(decoder)), confirmed_(start) {
  if (start.file.empty() && start.gtid.empty()) {
    throw StreamError("a binlog stream needs a start position: a file and offset, or a GTID");
  }
  decoder_.start_at(start, false);
  connect();
}

BinlogStream::~BinlogStream() = default;

void BinlogStream::fail_fatal(unsigned code, const std::string& message) {
  const Position& at = decoder_.resume_position();
  if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG &&
      (message.find("first log file") != std::string::npos ||
       message.find("not find") != std::string::npos)) {
    throw StreamError("binlog " + to_string(at) + " is no longer on the server at " +
                      where(options_) +
                      " (purged); start again from a current position (SHOW MASTER STATUS)");
  }
  if (code == ER_SLAVE_SAME_ID) {
    throw StreamError("another replica connected to " + where(options_) + " with server_id " +
                      std::to_string(server_id_) +
                      ", which ends this stream; give each reader its own server id "
                      "(--server-id)");
  }
  if (code == ER_ACCESS_DENIED_ERROR || code == ER_SPECIFIC_ACCESS_DENIED_ERROR ||
      code == ER_DBACCESS_DENIED_ERROR) {
    throw StreamError("MySQL at " + where(options_) + " refused the binlog stream for user '" +
                      options_.user + "': " + message +
                      "; the user needs REPLICATION SLAVE (and BINLOG MONITOR or REPLICATION "
                      "CLIENT)");
  }
  throw StreamError("binlog stream from " + where(options_) + " at " + to_string(at) +
                    " failed: error " + std::to_string(code) + " (" + message + ")");
}

void BinlogStream::connect() {
  auto session = std::make_unique<Session>();
  session->mysql = mysql_init(nullptr);
  if (!session->mysql) {
    throw StreamError("out of memory creating a MySQL client handle");
  }
  MYSQL* mysql = session->mysql;
  const unsigned read_timeout = static_cast<unsigned>(
      std::max<long>(2, (options_.heartbeat_period.count() * 4 + 999) / 1000));
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &kConnectTimeoutSeconds);
  mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  const unsigned protocol = options_.socket.empty() ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
  mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
  if (!mysql_real_connect(mysql, options_.host.c_str(), options_.user.c_str(),
                          options_.password ? options_.password->c_str() : nullptr, nullptr,
                          options_.port,
                          options_.socket.empty() ? nullptr : options_.socket.c_str(), 0)) {
    const unsigned code = mysql_errno(mysql);
    const std::string message = mysql_error(mysql);
    if (!transient(code)) {
      fail_fatal(code, message);
    }
    throw TransientConnectError("cannot connect to MySQL at " + where(options_) + ": " + message);
  }
  auto query_failed = [&](MYSQL* handle) {
    const unsigned code = mysql_errno(handle);
    if (transient(code)) {
      throw TransientConnectError(
          "MySQL at " + where(options_) +
          " went away while the binlog dump was set up: " + mysql_error(handle));
    }
    fail_fatal(code, mysql_error(handle));
  };
  auto run = [&](const std::string& sql) {
    if (mysql_real_query(mysql, sql.data(), sql.size()) != 0) {
      query_failed(mysql);
    }
    if (MYSQL_RES* result = mysql_store_result(mysql)) {
      mysql_free_result(result);
    }
  };
  auto value = [&](const std::string& sql) {
    if (mysql_real_query(mysql, sql.data(), sql.size()) != 0) {
      query_failed(mysql);
    }
    std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> result(mysql_store_result(mysql),
                                                                    &mysql_free_result);
    MYSQL_ROW row = result ? mysql_fetch_row(result.get()) : nullptr;
    return row && row[0] ? std::string(row[0]) : std::string();
  };
  const std::string checksum = value("SELECT @@global.binlog_checksum");
  const auto own_id = static_cast<std::uint32_t>(std::stoul(value("SELECT @@server_id")));
  if (server_id_ == 0) {
    server_id_ = options_.server_id != 0 ? options_.server_id : derive_server_id(own_id);
  }
  if (server_id_ == own_id) {
    throw StreamError("replica server id " + std::to_string(server_id_) +
                      " is the server's own id; choose another with --server-id");
  }
  // Without this the server ends the dump (error 1236) when it writes checksums.
  run("SET @master_binlog_checksum = @@global.binlog_checksum");
  run(kSlaveCapability);
  run("SET @master_heartbeat_period = " +
      std::to_string(std::chrono::nanoseconds(options_.heartbeat_period).count()));
  Position start = decoder_.resume_position();
  const bool by_gtid = start.file.empty();
  if (by_gtid) {
    std::string escaped(start.gtid.size() * 2 + 1, '\0');
    escaped.resize(mysql_real_escape_string(mysql, escaped.data(), start.gtid.data(),
                                            static_cast<unsigned long>(start.gtid.size())));
    run("SET @slave_connect_state = '" + escaped + "'");
  }
  session->rpl = mariadb_rpl_init(mysql);
  if (!session->rpl) {
    throw StreamError("libmariadb could not create a replication handle");
  }
  mariadb_rpl_optionsv(session->rpl, MARIADB_RPL_SERVER_ID, static_cast<unsigned>(server_id_));
  mariadb_rpl_optionsv(session->rpl, MARIADB_RPL_FILENAME, start.file.c_str(), start.file.size());
  mariadb_rpl_optionsv(session->rpl, MARIADB_RPL_START,
                       static_cast<unsigned long>(by_gtid ? 4 : start.offset));
  mariadb_rpl_optionsv(session->rpl, MARIADB_RPL_FLAGS, 0u);
  mariadb_rpl_optionsv(session->rpl, MARIADB_RPL_VERIFY_CHECKSUM, 1u);
  if (mariadb_rpl_open(session->rpl) != 0) {
    const unsigned code = mysql_errno(mysql);
    const std::string message = mysql_error(mysql);
    if (transient(code)) {
      throw TransientConnectError("cannot start the binlog dump from " + where(options_) + ": " +
                                  message);
    }
    fail_fatal(code, message);
  }
  decoder_.discard_partial_transaction();
  decoder_.start_at(start, checksum == "CRC32");
  session_ = std::move(session);
  disconnected_since_.reset();
  spdlog::info("binlog dump from {} requested at {} as replica server_id {}", where(options_),
               by_gtid ? "GTID " + start.gtid : to_string(start), server_id_);
}

void BinlogStream::disconnect() {
  session_.reset();
  decoder_.discard_partial_transaction();
  if (!disconnected_since_) {
    disconnected_since_ = std::chrono::steady_clock::now();
  }
}

std::optional<Transaction> BinlogStream::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!session_) {
      try {
        connect();
      } catch (const TransientConnectError& error) {
        if (!disconnected_since_ ||
            std::chrono::steady_clock::now() - *disconnected_since_ > options_.reconnect_timeout) {
          throw;
        }
        spdlog::debug("binlog stream reconnect failed: {}", error.what());
        if (std::chrono::steady_clock::now() + kReconnectPause >= deadline) {
          return std::nullopt;
        }
        std::this_thread::sleep_for(kReconnectPause);
        continue;
      }
    }
    MARIADB_RPL_EVENT* event = mariadb_rpl_fetch(session_->rpl, session_->event);
    if (!event) {
      // libmariadb frees the event it was handed when a fetch fails.
      session_->event = nullptr;
      const unsigned code = mysql_errno(session_->mysql);
      const std::string message = mysql_error(session_->mysql);
      // libmariadb 3.3 fails to parse what follows the end of a binlog file (the artificial
      // ROTATE after a real one or after a STOP); a new dump at the next file reads on.
      if (decoder_.file_switched()) {
        spdlog::info("binlog on {} continues in {}; reconnecting there", where(options_),
                     to_string(decoder_.resume_position()));
        disconnect();
        continue;
      }
      if (!transient(code)) {
        fail_fatal(code, message);
      }
      spdlog::warn("binlog stream from {} lost at {} ({}); reconnecting", where(options_),
                   to_string(decoder_.resume_position()), message);
      disconnect();
      continue;
    }
    session_->event = event;
    if (event->raw_data_size <= 1) {
      throw StreamError("binlog stream from " + where(options_) + " sent an empty event");
    }
    std::optional<Transaction> transaction =
        decoder_.feed(std::span<const std::uint8_t>(event->raw_data + 1, event->raw_data_size - 1));
    if (transaction) {
      if (!transaction->changes.empty()) {
        unreported_progress_.reset();
        return transaction;
      }
      unreported_progress_ = transaction->commit_position;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (unreported_progress_) {
        Transaction progress;
        progress.commit_position = *unreported_progress_;
        unreported_progress_.reset();
        return progress;
      }
      return std::nullopt;
    }
  }
}

void BinlogStream::confirm(const Position& position) {
  confirmed_ = position;
}

}  // namespace sluice::replication::mysql

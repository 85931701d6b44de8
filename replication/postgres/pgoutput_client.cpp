#include "replication/postgres/pgoutput_client.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"

namespace sluice::replication::postgres {
namespace {

constexpr std::chrono::milliseconds kMaxBackoff{2000};
constexpr std::int64_t kPostgresEpochMicros = 946684800LL * 1000000;

std::uint64_t read_u64(std::string_view bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

void append_u64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((value >> shift) & 0xff);
  }
}

std::int64_t postgres_now() {
  const auto since_unix = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return since_unix.count() - kPostgresEpochMicros;
}

// Errors after which reconnecting may help: the slot is still held by the walsender of the
// dropped connection, or the server is starting or shutting down.
bool retryable_sqlstate(const std::string& sqlstate) {
  return sqlstate == "55006" || sqlstate.rfind("57P", 0) == 0 || sqlstate.rfind("08", 0) == 0;
}

}  // namespace

PgOutputStream::PgOutputStream(ConnectionParams params, StreamOptions options)
    : params_(std::move(params)), options_(std::move(options)) {
  // The caller confirmed everything up to start_lsn in an earlier run: the transactions at or
  // before it were delivered then.
  last_delivered_commit_ = options_.start_lsn;
  flush_lsn_ = options_.start_lsn;
  // Connected but cut off before streaming (its session terminated, the slot still held by a
  // walsender of a session just lost): reconnected by next(), as a stream lost later would be.
  if (!start(/*reconnecting=*/false)) {
    lose_connection(last_error_);
  }
}

std::string raise_decoding_memory_sql(std::uint64_t kb) {
  return "SELECT set_config('logical_decoding_work_mem', greatest(pg_size_bytes(current_setting("
         "'logical_decoding_work_mem')) / 1024, " +
         std::to_string(kb) + ")::text || 'kB', false)";
}

PgOutputStream::~PgOutputStream() {
  if (session_) {
    send_status();
  }
}

bool PgOutputStream::start(bool reconnecting) {
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(params_, Session::Mode::replication);
  } catch (const StreamError& error) {
    // While reconnecting, the server may still be restarting: try again later.
    if (!reconnecting) {
      throw;
    }
    last_error_ = error.what();
    return false;
  }
  if (options_.decoding_memory_kb > 0) {
    try {
      session->query(raise_decoding_memory_sql(options_.decoding_memory_kb));
    } catch (const StreamError& error) {
      // A refusal of the first start is final; a session lost on it is not.
      if (!reconnecting && PQstatus(session->handle()) != CONNECTION_BAD) {
        throw;
      }
      last_error_ = error.what();
      return false;
    }
  }
  const std::string command =
      "START_REPLICATION SLOT " + ddl::quote_identifier(ddl::Dialect::postgres, options_.slot) +
      " LOGICAL " + format_lsn(flush_lsn_) + " (proto_version '1', publication_names '\"" +
      options_.publication + "\"')";
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(session->handle(), command.c_str()),
                                                       &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COPY_BOTH) {
    const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    last_error_ =
        "the server refused to stream slot " + options_.slot + ": " +
        first_line(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(session->handle()));
    // A session terminated before the server answered carries no SQLSTATE, only a closed
    // connection: as retryable as a refusal naming one, on the first start too (the server was
    // reached, so the DSN and the slot are right).
    if (retryable_sqlstate(sqlstate ? sqlstate : "") ||
        PQstatus(session->handle()) == CONNECTION_BAD) {
      return false;
    }
    throw StreamError(last_error_);
  }
  session_ = std::move(session);
  reported_flush_ = 0;
  last_status_ = Clock::now();
  spdlog::debug("streaming slot {} from {}", options_.slot, format_lsn(flush_lsn_));
  return true;
}

void PgOutputStream::lose_connection(const std::string& why) {
  session_.reset();
  decoder_.reset_transaction();
  disconnected_since_ = Clock::now();
  next_attempt_ = *disconnected_since_;
  backoff_ = std::chrono::milliseconds(100);
  last_error_ = why;
  spdlog::warn("lost the replication connection of slot {} ({}); reconnecting", options_.slot, why);
}

bool PgOutputStream::try_reconnect(Clock::time_point deadline) {
  const Clock::time_point now = Clock::now();
  if (now - *disconnected_since_ > options_.reconnect_timeout) {
    const auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(options_.reconnect_timeout).count();
    throw StreamDisconnected("lost the replication connection of slot " + options_.slot +
                             " and could not reconnect within " + std::to_string(limit) +
                             " s: " + last_error_);
  }
  if (now < next_attempt_) {
    std::this_thread::sleep_until(std::min(next_attempt_, deadline));
    if (Clock::now() < next_attempt_) {
      return false;
    }
  }
  if (!start(/*reconnecting=*/true)) {
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    return false;
  }
  spdlog::info("reconnected the replication stream of slot {} at {}", options_.slot,
               format_lsn(flush_lsn_));
  disconnected_since_.reset();
  return true;
}

bool PgOutputStream::wait_readable(Clock::time_point until) {
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  pollfd descriptor{PQsocket(session_->handle()), POLLIN, 0};
  return poll(&descriptor, 1, static_cast<int>(std::max<long long>(remaining, 0))) > 0;
}

std::optional<Transaction> PgOutputStream::next(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    if (!session_ && !try_reconnect(deadline)) {
      if (Clock::now() >= deadline) {
        return std::nullopt;
      }
      continue;
    }
    if (Clock::now() - last_status_ >= options_.status_interval) {
      send_status();
      continue;
    }
    char* buffer = nullptr;
    const int length = PQgetCopyData(session_->handle(), &buffer, /*async=*/1);
    if (length > 0) {
      std::unique_ptr<char, decltype(&PQfreemem)> owned(buffer, &PQfreemem);
      std::optional<Transaction> transaction =
          handle(std::string_view(buffer, static_cast<std::size_t>(length)));
      if (transaction) {
        return transaction;
      }
      continue;
    }
    if (length == 0) {
      const Clock::time_point now = Clock::now();
      if (now >= deadline) {
        return std::nullopt;
      }
      if (wait_readable(std::min(deadline, last_status_ + options_.status_interval)) &&
          !PQconsumeInput(session_->handle())) {
        lose_connection(first_line(PQerrorMessage(session_->handle())));
      }
      continue;
    }
    std::string why = first_line(PQerrorMessage(session_->handle()));
    while (PGresult* result = PQgetResult(session_->handle())) {
      if (PQresultStatus(result) == PGRES_FATAL_ERROR) {
        why = first_line(PQresultErrorMessage(result));
      }
      PQclear(result);
    }
    lose_connection(why.empty() ? "the server ended the stream" : why);
  }
}

std::optional<Transaction> PgOutputStream::handle(std::string_view copy_data) {
  const char kind = copy_data.empty() ? '\0' : copy_data[0];
  if (kind == 'k' && copy_data.size() >= 18) {
    const std::uint64_t wal_end = read_u64(copy_data, 1);
    received_lsn_ = std::max(received_lsn_, wal_end);
    if (copy_data[17] != 0) {
      send_status();
    }
    // Every transaction committing before wal_end has been sent ahead of this keepalive; one
    // committing exactly at wal_end has not, hence the - 1.
    if (!decoder_.in_transaction() && wal_end > 0 && wal_end - 1 > last_progress_ &&
        wal_end - 1 > last_delivered_commit_) {
      last_progress_ = wal_end - 1;
      Transaction progress;
      progress.commit_position.lsn = last_progress_;
      progress.commit_time = std::chrono::system_clock::now();
      return progress;
    }
    return std::nullopt;
  }
  if (kind != 'w' || copy_data.size() < 25) {
    throw StreamError(std::string("unexpected replication message '") + kind + "' of " +
                      std::to_string(copy_data.size()) + " bytes");
  }
  received_lsn_ = std::max(received_lsn_, read_u64(copy_data, 9));
  std::optional<DecodedTransaction> decoded = decoder_.feed(copy_data.substr(25));
  if (!decoded) {
    return std::nullopt;
  }
  const std::uint64_t commit_lsn = decoded->transaction.commit_position.lsn;
  if (commit_lsn <= last_delivered_commit_ || commit_lsn <= last_progress_) {
    spdlog::debug("skipped transaction at {}: delivered before a reconnect",
                  format_lsn(commit_lsn));
    return std::nullopt;
  }
  last_delivered_commit_ = commit_lsn;
  unconfirmed_.emplace_back(commit_lsn, decoded->end_lsn);
  return std::move(decoded->transaction);
}

void PgOutputStream::confirm(const Position& position) {
  std::uint64_t flush = std::max(flush_lsn_, position.lsn);
  while (!unconfirmed_.empty() && unconfirmed_.front().first <= position.lsn) {
    flush = std::max(flush, unconfirmed_.front().second);
    unconfirmed_.pop_front();
  }
  if (flush > flush_lsn_) {
    flush_lsn_ = flush;
    if (session_) {
      send_status();
    }
  }
}

void PgOutputStream::send_status() {
  // The flush position moves the slot; it is sent only when it advanced and is otherwise left
  // invalid (0), which the server ignores. While the flush position it holds is behind what it
  // sent, a shutting-down walsender waits for the client (up to wal_sender_timeout) before the
  // server may stop; with an invalid flush it compares the write position instead, which
  // reports what was received.
  const std::uint64_t flush = flush_lsn_ > reported_flush_ ? flush_lsn_ : 0;
  std::string message = "r";
  append_u64(message, std::max(received_lsn_, flush_lsn_));  // written
  append_u64(message, flush);                                // flushed
  append_u64(message, flush);                                // applied
  append_u64(message, static_cast<std::uint64_t>(postgres_now()));
  message += '\0';  // no reply wanted
  last_status_ = Clock::now();
  if (PQputCopyData(session_->handle(), message.data(), static_cast<int>(message.size())) != 1 ||
      PQflush(session_->handle()) != 0) {
    lose_connection(first_line(PQerrorMessage(session_->handle())));
    return;
  }
  reported_flush_ = std::max(reported_flush_, flush);
}

}  // namespace sluice::replication::postgres

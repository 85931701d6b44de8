// The MySQL/MariaDB binlog stream against real MariaDB servers: decoded values against SELECT,
// a server restart mid-stream, a purged binlog, and `sluice stream`.
#include "replication/mysql/binlog_stream.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "integration/support.h"
#include "replication/stream_error.h"

using namespace sluice;
using namespace sluice::test;
using replication::ChangeEvent;
using replication::Operation;
using replication::Position;
using replication::Row;
using replication::Transaction;
using replication::ValueKind;
using replication::mysql::BinlogConnectionOptions;
using replication::mysql::BinlogStream;
using replication::mysql::DecoderOptions;

namespace {

BinlogConnectionOptions connection_for(const std::string& dsn_text) {
  const Dsn dsn = parse_dsn(dsn_text);
  BinlogConnectionOptions options;
  options.host = dsn.host;
  options.port = dsn.port;
  options.socket = dsn.socket;
  options.user = dsn.user;
  options.heartbeat_period = std::chrono::milliseconds(200);
  options.reconnect_timeout = std::chrono::seconds(30);
  return options;
}

DecoderOptions only(const std::string& table) {
  DecoderOptions options;
  options.tables.push_back({"sluice_test", table, {}});
  return options;
}

Position binlog_end(mysql::Connection& db) {
  auto rows = db.query("SHOW MASTER STATUS");
  REQUIRE(rows.size() == 1);
  return Position{*rows[0][0], std::stoull(*rows[0][1]), "", 0};
}

// Reads changes until `count` arrived or `seconds` passed.
std::vector<ChangeEvent> collect(BinlogStream& stream, std::size_t count, int seconds = 20) {
  std::vector<ChangeEvent> changes;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (changes.size() < count && std::chrono::steady_clock::now() < deadline) {
    if (auto transaction = stream.next(std::chrono::milliseconds(200))) {
      for (ChangeEvent& change : transaction->changes) {
        changes.push_back(std::move(change));
      }
    }
  }
  return changes;
}

std::string int_column(const Row& row, std::size_t index = 0) {
  return row.at(index).text;
}

// INSERTs `row` into `table` with one prepared statement, binding each value by its kind.
void insert_row(MYSQL* mysql, const std::string& table, const Row& row) {
  std::string sql = "INSERT INTO " + table + " VALUES (";
  for (std::size_t i = 0; i < row.size(); ++i) {
    sql += i == 0 ? "?" : ", ?";
  }
  sql += ")";
  std::unique_ptr<MYSQL_STMT, decltype(&mysql_stmt_close)> statement(mysql_stmt_init(mysql),
                                                                     &mysql_stmt_close);
  REQUIRE(mysql_stmt_prepare(statement.get(), sql.data(), sql.size()) == 0);
  std::vector<MYSQL_BIND> binds(row.size());
  std::vector<my_bool> nulls(row.size());
  std::vector<unsigned long> lengths(row.size());
  for (std::size_t i = 0; i < row.size(); ++i) {
    MYSQL_BIND& bind = binds[i];
    std::memset(&bind, 0, sizeof bind);
    nulls[i] = row[i].kind == ValueKind::null;
    lengths[i] = static_cast<unsigned long>(row[i].text.size());
    bind.buffer_type = row[i].kind == ValueKind::binary ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
    bind.buffer = const_cast<char*>(row[i].text.data());
    bind.buffer_length = lengths[i];
    bind.length = &lengths[i];
    bind.is_null = &nulls[i];
  }
  REQUIRE(mysql_stmt_bind_param(statement.get(), binds.data()) == 0);
  INFO(mysql_stmt_error(statement.get()));
  REQUIRE(mysql_stmt_execute(statement.get()) == 0);
}

// One private server for the tests that restart it or purge its binlog (starting one is slow).
PrivateServer& private_server() {
  static PrivateServer server(ServerKind::mysql, "");
  return server;
}

}  // namespace

TEST_CASE("every decoded value equals what SELECT returns, after inserts, updates and deletes") {
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS bs_types");
  db->execute(
      "CREATE TABLE bs_types (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT,"
      " mi MEDIUMINT UNSIGNED, i INT, bi BIGINT, bu BIGINT UNSIGNED, f FLOAT, d DOUBLE,"
      " dc DECIMAL(12,3), dw DECIMAL(40,20), y YEAR, dt DATE, tm TIME(3), tm0 TIME,"
      " dtm DATETIME(6), ts TIMESTAMP(2) NULL, c CHAR(3), cl CHAR(5) CHARACTER SET latin1,"
      " v VARCHAR(300), bn BINARY(3), vb VARBINARY(10), tx TEXT, lb LONGBLOB,"
      " e ENUM('red','green'), st SET('x','y','z'), j JSON, bt BIT(10), g GEOMETRY,"
      " yt TINYINT)"
      " DEFAULT CHARSET utf8mb4");
  BinlogStream stream(connection_for(server_dsn(ServerKind::mysql)), only("bs_types"),
                      binlog_end(*db));
  db->execute("SET time_zone = '+00:00', sql_mode = ''");
  db->execute(
      "INSERT INTO bs_types VALUES"
      " (1, -128, 255, -32768, 16777215, -2147483648, -9223372036854775808,"
      "  18446744073709551615, -1.25, 2.2250738585072014e-308, -0.001,"
      "  -12345678901234567890.00000000000000000001, 2155, '0000-00-00', '-838:59:59.999',"
      "  '00:00:00', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.01', 'a b',"
      "  CONVERT(X'E9E8' USING latin1), CONCAT(REPEAT('x', 250), CONVERT(X'F09F9880' USING "
      "utf8mb4)),"
      "  X'01', X'', '', X'00FF', 'green', 'x,z', '{\"a\": [1, 2]}', b'1000000001',"
      "  ST_GeomFromText('LINESTRING(0 0, 1 1)'), -7),"
      " (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
      "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
      "NULL),"
      " (3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '2024-02-29', '00:00:00.5', '-00:00:01',"
      "  '2038-01-19 03:14:08', '2038-01-19 03:14:07.99', '', '', '', X'000000', X'00', 'tx',"
      "  X'', 'red', '', '[]', b'0', NULL, -128)");
  db->execute("UPDATE bs_types SET id = 4, v = 'moved', ts = '2024-05-01 10:11:12.5' WHERE id = 3");
  db->execute("DELETE FROM bs_types WHERE id = 2");
  db->execute("INSERT INTO bs_types (id) VALUES (5)");

  std::vector<ChangeEvent> changes = collect(stream, 6);
  REQUIRE(changes.size() == 6);
  CHECK(changes[3].operation == Operation::update);
  CHECK(changes[3].key_before == Row{{ValueKind::number, "3"}});
  CHECK(changes[3].key_after == Row{{ValueKind::number, "4"}});
  CHECK(changes[4].operation == Operation::erase);

  // Replay the stream into a map and compare it with the table, byte for byte.
  std::map<std::string, Row> replayed;
  for (const ChangeEvent& change : changes) {
    if (change.operation != Operation::insert) {
      replayed.erase(int_column(change.key_before));
    }
    if (change.operation != Operation::erase) {
      replayed[int_column(change.key_after)] = *change.after;
    }
  }
  db->execute("SET character_set_results = binary");
  auto rows = db->query("SELECT * FROM bs_types ORDER BY id");
  REQUIRE(rows.size() == replayed.size());
  const auto& columns = changes[0].table->columns;
  for (const auto& row : rows) {
    const Row& decoded = replayed.at(*row[0]);
    REQUIRE(decoded.size() == row.size());
    for (std::size_t i = 0; i < row.size(); ++i) {
      INFO("id " << *row[0] << " column " << columns[i].name << " decoded "
                 << replication::format_value(decoded[i]));
      if (!row[i]) {
        CHECK(decoded[i].kind == ValueKind::null);
      } else if (columns[i].name == "f" || columns[i].name == "d") {
        REQUIRE(decoded[i].kind == ValueKind::number);
        // The server prints FLOAT with 6 significant digits; the stream keeps every bit.
        CHECK(std::strtod(decoded[i].text.c_str(), nullptr) ==
              doctest::Approx(std::strtod(row[i]->c_str(), nullptr)).epsilon(1e-6));
      } else {
        CHECK(decoded[i].text == *row[i]);
      }
    }
  }

  // Round trip: bind every decoded value back as the engine will (text forms as strings, raw
  // bytes as blobs, no conversion) and the copy must equal the original byte for byte.
  db->execute("DROP TABLE IF EXISTS bs_types_copy");
  db->execute("CREATE TABLE bs_types_copy LIKE bs_types");
  db->execute("SET NAMES binary");
  db->execute("SET time_zone = '+00:00', sql_mode = ''");
  for (const auto& [id, decoded] : replayed) {
    insert_row(db->handle(), "bs_types_copy", decoded);
  }
  const std::string all = "SELECT * FROM bs_types ORDER BY id";
  CHECK(db->query("SELECT * FROM bs_types_copy ORDER BY id") == db->query(all));
  db->execute("DROP TABLE bs_types_copy");
  db->execute("DROP TABLE bs_types");
}

TEST_CASE("two streams with derived server ids run side by side") {
  auto db = mysql_admin();
  db->execute("CREATE TABLE IF NOT EXISTS bs_twins (id INT PRIMARY KEY)");
  const Position start = binlog_end(*db);
  BinlogStream first(connection_for(server_dsn(ServerKind::mysql)), only("bs_twins"), start);
  BinlogStream second(connection_for(server_dsn(ServerKind::mysql)), only("bs_twins"), start);
  CHECK(first.server_id() != second.server_id());
  CHECK(first.server_id() != 0);
  db->execute("INSERT INTO bs_twins VALUES (1)");
  CHECK(collect(first, 1).size() == 1);
  CHECK(collect(second, 1).size() == 1);
  db->execute("DROP TABLE bs_twins");
}

TEST_CASE("a second reader with the same server id ends the first with a clear error") {
  auto db = mysql_admin();
  const Position start = binlog_end(*db);
  BinlogConnectionOptions options = connection_for(server_dsn(ServerKind::mysql));
  options.server_id = 777001;
  BinlogStream first(options, only("bs_none"), start);
  first.next(std::chrono::milliseconds(300));
  BinlogStream second(options, only("bs_none"), start);
  second.next(std::chrono::milliseconds(300));
  try {
    collect(first, 1, 3);
    FAIL("the first stream went on");
  } catch (const replication::StreamError& error) {
    CHECK(std::string(error.what()).find("with server_id 777001") != std::string::npos);
  }
}

TEST_CASE("a server restart mid-stream loses no transaction and repeats none") {
  PrivateServer& server = private_server();
  mysql::Connection db(parse_dsn(server.dsn()), std::nullopt);
  db.execute("CREATE TABLE r (id INT PRIMARY KEY, v VARCHAR(10))");
  BinlogStream stream(connection_for(server.dsn()), only("r"), binlog_end(db));
  for (int id = 1; id <= 10; ++id) {
    db.execute("INSERT INTO r VALUES (" + std::to_string(id) + ", 'before')");
  }
  // Take only part of what was sent: the rest sits undelivered when the server goes away.
  std::vector<ChangeEvent> seen = collect(stream, 4);
  REQUIRE(seen.size() == 4);
  server.restart();
  mysql::Connection again(parse_dsn(server.dsn()), std::nullopt);
  for (int id = 11; id <= 20; ++id) {
    again.execute("INSERT INTO r VALUES (" + std::to_string(id) + ", 'after')");
  }
  std::vector<ChangeEvent> rest = collect(stream, 16);
  seen.insert(seen.end(), rest.begin(), rest.end());
  std::vector<std::string> ids;
  for (const ChangeEvent& change : seen) {
    ids.push_back(int_column(change.key_after));
  }
  std::vector<std::string> expected;
  for (int id = 1; id <= 20; ++id) {
    expected.push_back(std::to_string(id));
  }
  CHECK(ids == expected);
  // Nothing more arrives: no transaction was delivered twice.
  CHECK(collect(stream, 1, 1).empty());
  CHECK(stream.resume_position().file != "bin.000001");
  again.execute("DROP TABLE IF EXISTS r");
}

TEST_CASE("the stream follows the binlog into the next file after FLUSH BINARY LOGS") {
  auto db = mysql_admin();
  db->execute("CREATE TABLE IF NOT EXISTS bs_rotate (id INT PRIMARY KEY)");
  db->execute("DELETE FROM bs_rotate");
  const Position start = binlog_end(*db);
  BinlogStream stream(connection_for(server_dsn(ServerKind::mysql)), only("bs_rotate"), start);
  db->execute("INSERT INTO bs_rotate VALUES (1)");
  db->execute("FLUSH BINARY LOGS");
  db->execute("INSERT INTO bs_rotate VALUES (2)");
  db->execute("FLUSH BINARY LOGS");
  db->execute("INSERT INTO bs_rotate VALUES (3)");
  std::vector<ChangeEvent> changes = collect(stream, 3);
  REQUIRE(changes.size() == 3);
  CHECK(int_column(changes[2].key_after) == "3");
  CHECK(changes[2].position.file == binlog_end(*db).file);
  CHECK(changes[0].position.file == start.file);
  CHECK(collect(stream, 1, 1).empty());
  db->execute("DROP TABLE bs_rotate");
}

TEST_CASE("a dropped connection is resumed at the last delivered transaction") {
  auto db = mysql_admin();
  db->execute("CREATE TABLE IF NOT EXISTS bs_drop (id INT PRIMARY KEY)");
  BinlogStream stream(connection_for(server_dsn(ServerKind::mysql)), only("bs_drop"),
                      binlog_end(*db));
  db->execute("INSERT INTO bs_drop VALUES (1)");
  REQUIRE(collect(stream, 1).size() == 1);
  for (const auto& row : db->query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND "
                                   "LIKE 'Binlog Dump%'")) {
    db->execute("KILL " + *row[0]);
  }
  db->execute("INSERT INTO bs_drop VALUES (2)");
  std::vector<ChangeEvent> changes = collect(stream, 1);
  REQUIRE(changes.size() == 1);
  CHECK(int_column(changes[0].key_after) == "2");
  CHECK(collect(stream, 1, 1).empty());
  db->execute("DROP TABLE bs_drop");
}

TEST_CASE("a server writing binlog_checksum=NONE streams as well") {
  PrivateServer& server = private_server();
  mysql::Connection db(parse_dsn(server.dsn()), std::nullopt);
  db.execute("SET GLOBAL binlog_checksum = NONE");
  db.execute("CREATE TABLE IF NOT EXISTS plain (id INT PRIMARY KEY, v VARCHAR(10))");
  BinlogStream stream(connection_for(server.dsn()), only("plain"), binlog_end(db));
  db.execute("INSERT INTO plain VALUES (1, 'no crc')");
  db.execute("SET GLOBAL binlog_checksum = CRC32");
  db.execute("INSERT INTO plain VALUES (2, 'crc')");
  std::vector<ChangeEvent> changes = collect(stream, 2);
  REQUIRE(changes.size() == 2);
  CHECK((*changes[0].after)[1].text == "no crc");
  CHECK((*changes[1].after)[1].text == "crc");
  db.execute("DROP TABLE plain");
}

TEST_CASE("a purged binlog file is a clear StreamError") {
  PrivateServer& server = private_server();
  mysql::Connection db(parse_dsn(server.dsn()), std::nullopt);
  db.execute("FLUSH BINARY LOGS");
  const Position old = binlog_end(db);
  db.execute("CREATE TABLE IF NOT EXISTS p (id INT PRIMARY KEY)");
  // MariaDB keeps a file until its binlog checkpoint has passed it: retry until it is gone.
  bool purged = false;
  for (int attempt = 0; attempt < 50 && !purged; ++attempt) {
    db.execute("FLUSH BINARY LOGS");
    db.execute("PURGE BINARY LOGS TO " + db.quote_literal(binlog_end(db).file));
    purged = true;
    for (const auto& row : db.query("SHOW BINARY LOGS")) {
      purged = purged && *row[0] != old.file;
    }
    usleep(100000);
  }
  REQUIRE(purged);
  try {
    BinlogStream stream(connection_for(server.dsn()), only("p"), old);
    collect(stream, 1, 3);
    FAIL("reading a purged binlog did not fail");
  } catch (const replication::StreamError& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK(message.find("purged") != std::string::npos);
    CHECK(message.find(old.file) != std::string::npos);
  }
}

TEST_CASE("sluice stream prints one line per row change and stops cleanly on SIGINT") {
  auto db = mysql_admin();
  db->execute("DROP TABLE IF EXISTS bs_cli");
  db->execute("CREATE TABLE bs_cli (id INT PRIMARY KEY, name VARCHAR(10), amount DECIMAL(6,3))");
  SluiceProcess process({"stream", "--dsn", server_dsn(ServerKind::mysql), "--table", "bs_cli",
                         "--server-id", "424242"});
  // The stream starts at the binlog end it reads when it connects: wait until it listens.
  bool listening = false;
  for (int attempt = 0; attempt < 50 && !listening; ++attempt) {
    for (const auto& row : db->query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND "
                                     "LIKE 'Binlog Dump%'")) {
      listening = listening || !row.empty();
    }
    usleep(100000);
  }
  REQUIRE(listening);
  db->execute("INSERT INTO bs_cli VALUES (1, 'it''s', -0.5)");
  db->execute("UPDATE bs_cli SET id = 2 WHERE id = 1");
  db->execute("DELETE FROM bs_cli WHERE id = 2");
  REQUIRE(process.wait_for("delete sluice_test.bs_cli key (2)", std::chrono::seconds(10)));
  CHECK(
      process.out().find("insert sluice_test.bs_cli key (1) after (1, 'it\\'s', -0.500) at bin.") !=
      std::string::npos);
  CHECK(process.out().find("update sluice_test.bs_cli key (1) -> (2) before (1, 'it\\'s', -0.500) "
                           "after (2, 'it\\'s', -0.500) at bin.") != std::string::npos);
  CHECK(process.stop(SIGINT) == 0);
  db->execute("DROP TABLE bs_cli");
}

TEST_CASE("sluice stream refuses what it cannot follow, with documented exit codes") {
  SUBCASE("a server logging statements instead of rows") {
    PrivateServer& server = private_server();
    mysql::Connection db(parse_dsn(server.dsn()), std::nullopt);
    db.execute("CREATE TABLE IF NOT EXISTS by_statement (id INT PRIMARY KEY)");
    db.execute("SET GLOBAL binlog_format = 'STATEMENT'");
    RunResult run = run_sluice({"stream", "--dsn", server.dsn(), "--table", "by_statement"});
    db.execute("SET GLOBAL binlog_format = 'ROW'");
    CHECK(run.exit_code == 5);
    CHECK(run.err.find("binlog_format=STATEMENT") != std::string::npos);
  }
  SUBCASE("a MariaDB 5.3 temporal column with fractional seconds") {
    PrivateServer& server = private_server();
    mysql::Connection db(parse_dsn(server.dsn()), std::nullopt);
    db.execute("SET GLOBAL mysql56_temporal_format = OFF");
    db.execute("CREATE TABLE IF NOT EXISTS old_temporal (id INT PRIMARY KEY, at DATETIME(3))");
    db.execute("SET GLOBAL mysql56_temporal_format = ON");
    RunResult run = run_sluice({"stream", "--dsn", server.dsn(), "--table", "old_temporal"});
    CHECK(run.exit_code == 5);
    CHECK(run.err.find("column `at` of `sluice_test`.`old_temporal` uses MariaDB 5.3's temporal "
                       "format") != std::string::npos);
  }
  SUBCASE("an unknown table") {
    RunResult run =
        run_sluice({"stream", "--dsn", server_dsn(ServerKind::mysql), "--table", "no_such_table"});
    CHECK(run.exit_code == 4);
    CHECK(run.err.find("does not exist") != std::string::npos);
  }
  SUBCASE("an unreachable server") {
    RunResult run = run_sluice({"stream", "--dsn", "mysql://u@127.0.0.1:1/db", "--table", "t"});
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("cannot connect") != std::string::npos);
  }
  SUBCASE("a user without REPLICATION SLAVE, and without BINLOG MONITOR") {
    auto db = mysql_admin();
    db->execute("CREATE TABLE IF NOT EXISTS bs_priv (id INT PRIMARY KEY)");
    db->execute("DROP USER IF EXISTS 'bs_norepl'@'127.0.0.1'");
    db->execute("CREATE USER 'bs_norepl'@'127.0.0.1' IDENTIFIED BY 'Stream-pw-1'");
    db->execute("GRANT SELECT ON sluice_test.* TO 'bs_norepl'@'127.0.0.1'");
    std::string user_dsn = server_dsn(ServerKind::mysql);
    user_dsn.replace(user_dsn.find("root@"), 5, "bs_norepl@");
    const std::map<std::string, std::string> env = {{"MYSQL_PWD", "Stream-pw-1"}};
    RunResult run = run_sluice({"stream", "--dsn", user_dsn, "--table", "bs_priv"}, env);
    CHECK(run.exit_code == 5);
    CHECK(run.err.find("BINLOG MONITOR") != std::string::npos);
    db->execute("GRANT BINLOG MONITOR ON *.* TO 'bs_norepl'@'127.0.0.1'");
    run = run_sluice({"stream", "--dsn", user_dsn, "--table", "bs_priv"}, env);
    INFO(run.err);
    CHECK(run.exit_code == 6);
    CHECK(run.err.find("REPLICATION SLAVE") != std::string::npos);
    CHECK(run.err.find("Stream-pw-1") == std::string::npos);
    db->execute("DROP USER 'bs_norepl'@'127.0.0.1'");
  }
  SUBCASE("--help prints the options and exits 0") {
    RunResult run = run_sluice({"stream", "--help"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("--server-id") != std::string::npos);
  }
  SUBCASE("a missing --table") {
    CHECK(run_sluice({"stream", "--dsn", server_dsn(ServerKind::mysql)}).exit_code == 2);
  }
}

TEST_CASE("a stream started at a MariaDB GTID delivers the transactions after it") {
  auto db = mysql_admin();
  db->execute("CREATE TABLE IF NOT EXISTS bs_gtid (id INT PRIMARY KEY)");
  db->execute("DELETE FROM bs_gtid");
  db->execute("INSERT INTO bs_gtid VALUES (1)");
  const std::string gtid = *db->query_value("SELECT @@gtid_binlog_pos");
  db->execute("INSERT INTO bs_gtid VALUES (2)");
  Position start;
  start.gtid = gtid;
  BinlogStream stream(connection_for(server_dsn(ServerKind::mysql)), only("bs_gtid"), start);
  std::vector<ChangeEvent> changes = collect(stream, 1);
  REQUIRE(changes.size() == 1);
  CHECK(int_column(changes[0].key_after) == "2");
  CHECK_FALSE(changes[0].position.file.empty());
  CHECK(changes[0].position.gtid != gtid);
  CHECK(collect(stream, 1, 1).empty());
  db->execute("DROP TABLE bs_gtid");
}

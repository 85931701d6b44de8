// The pgoutput change stream against a real PostgreSQL 15: row changes, transactions, TOAST,
// reconnects and server restarts, and that no slot or publication outlives its owner.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "integration/support.h"
#include "replication/postgres/pgoutput_client.h"
#include "replication/postgres/slot_manager.h"
#include "replication/stream_error.h"

using sluice::ServerKind;
using sluice::ddl::QualifiedName;
using sluice::replication::ChangeEvent;
using sluice::replication::Operation;
using sluice::replication::Row;
using sluice::replication::StreamError;
using sluice::replication::Transaction;
using sluice::replication::Value;
using sluice::replication::ValueKind;
using namespace sluice::test;
namespace pg = sluice::replication::postgres;
using namespace std::chrono_literals;

namespace {

pg::ConnectionParams shared_server() {
  return {server_dsn(ServerKind::postgres), std::nullopt};
}

// Names unique to this process, so parallel test binaries never see each other's objects.
std::string unique_name(const std::string& what) {
  return "it_" + std::to_string(getpid()) + "_" + what;
}

// A LIKE pattern matching names that start with sluice_<prefix>. `_` is a LIKE wildcard, so it
// is escaped: another process's objects (pid 12345 against 1234) must never match.
std::string sluice_prefix_pattern(const std::string& prefix) {
  std::string pattern;
  for (const char c : "sluice_" + prefix) {
    if (c == '_' || c == '%' || c == '\\') {
      pattern += '\\';
    }
    pattern += c;
  }
  return pattern + "%";
}

// Fails the test when an object named sluice_<prefix>... is still on the server.
void check_nothing_left(sluice::postgres::Connection& db, const std::string& prefix) {
  const std::string pattern = sluice_prefix_pattern(prefix);
  CHECK(db.query_value("SELECT string_agg(slot_name, ', ') FROM pg_replication_slots "
                       "WHERE slot_name LIKE $1",
                       {pattern}) == std::nullopt);
  CHECK(db.query_value("SELECT string_agg(pubname, ', ') FROM pg_publication WHERE pubname "
                       "LIKE $1",
                       {pattern}) == std::nullopt);
}

void recreate(sluice::postgres::Connection& db, const std::string& table, const std::string& body) {
  db.execute("CREATE SCHEMA IF NOT EXISTS stream_it");
  db.execute("DROP TABLE IF EXISTS stream_it." + table);
  db.execute("CREATE TABLE stream_it." + table + " " + body);
}

// A publication, a slot and a stream over them, torn down in the right order.
struct Subscription {
  Subscription(const pg::ConnectionParams& params, const std::string& name,
               const std::string& table, pg::StreamOptions options = {})
      : publication(params, name, {QualifiedName{"stream_it", table}}),
        slot(params, name, /*export_snapshot=*/false) {
    options.slot = slot.name();
    options.publication = publication.name();
    stream = std::make_unique<pg::PgOutputStream>(params, options);
  }

  pg::Publication publication;
  pg::ReplicationSlot slot;
  std::unique_ptr<pg::PgOutputStream> stream;  // declared last: disconnects before the drops
};

// Reads transactions with changes until `changes` row changes arrived or `limit` passed.
std::vector<Transaction> collect(pg::PgOutputStream& stream, std::size_t changes,
                                 std::chrono::milliseconds limit = 10s, bool confirm = true) {
  std::vector<Transaction> out;
  std::size_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (seen < changes && std::chrono::steady_clock::now() < deadline) {
    std::optional<Transaction> transaction = stream.next(200ms);
    if (!transaction) {
      continue;
    }
    if (confirm) {
      stream.confirm(transaction->commit_position);
    }
    if (!transaction->changes.empty()) {
      seen += transaction->changes.size();
      out.push_back(std::move(*transaction));
    }
  }
  return out;
}

std::vector<ChangeEvent> flatten(const std::vector<Transaction>& transactions) {
  std::vector<ChangeEvent> out;
  for (const Transaction& transaction : transactions) {
    out.insert(out.end(), transaction.changes.begin(), transaction.changes.end());
  }
  return out;
}

Value num(const std::string& text) {
  return Value{ValueKind::number, text};
}
Value txt(const std::string& text) {
  return Value{ValueKind::text, text};
}
const Value kNull{ValueKind::null, ""};

}  // namespace

TEST_CASE("inserts, updates with and without key change, deletes and NULLs arrive decoded") {
  auto db = postgres_admin();
  recreate(*db, "rows",
           "(id int PRIMARY KEY, note text, data bytea, doc jsonb, at timestamptz, "
           "amount numeric(12,3), flag boolean)");
  const std::string name = unique_name("rows");
  {
    Subscription sub(shared_server(), name, "rows");
    db->execute(
        "INSERT INTO stream_it.rows VALUES (1, 'it''s', '\\x00ff', '{\"a\": [1, 2]}', "
        "'2024-05-01 10:11:12.25+02', 1234.567, true)");
    db->execute("INSERT INTO stream_it.rows (id) VALUES (2)");
    db->execute("UPDATE stream_it.rows SET note = 'changed' WHERE id = 1");
    db->execute("UPDATE stream_it.rows SET id = 3 WHERE id = 2");
    db->execute("DELETE FROM stream_it.rows WHERE id = 1");
    const std::vector<Transaction> transactions = collect(*sub.stream, 5);
    REQUIRE(transactions.size() == 5);
    for (std::size_t i = 1; i < transactions.size(); ++i) {
      CHECK(transactions[i].commit_position.lsn > transactions[i - 1].commit_position.lsn);
    }
    const std::vector<ChangeEvent> changes = flatten(transactions);

    CHECK(changes[0].operation == Operation::insert);
    CHECK(changes[0].table->schema == "stream_it");
    CHECK(changes[0].table->table == "rows");
    CHECK(changes[0].key_after == Row{num("1")});
    CHECK(*changes[0].after ==
          Row{num("1"), txt("it's"), Value{ValueKind::binary, std::string("\0\xff", 2)},
              Value{ValueKind::json, "{\"a\": [1, 2]}"},
              Value{ValueKind::temporal, "2024-05-01 08:11:12.25+00"}, num("1234.567"), txt("t")});
    CHECK(*changes[1].after == Row{num("2"), kNull, kNull, kNull, kNull, kNull, kNull});

    CHECK(changes[2].operation == Operation::update);
    CHECK(changes[2].key_before == Row{num("1")});
    CHECK(changes[2].key_after == Row{num("1")});
    CHECK((*changes[2].after)[1] == txt("changed"));
    CHECK_FALSE(changes[2].before.has_value());

    CHECK(changes[3].key_before == Row{num("2")});
    CHECK(changes[3].key_after == Row{num("3")});

    CHECK(changes[4].operation == Operation::erase);
    CHECK(changes[4].key_before == Row{num("1")});
    CHECK_FALSE(changes[4].after.has_value());
    CHECK(changes[4].position == transactions[4].commit_position);
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("the decoded text round-trips into the server") {
  auto db = postgres_admin();
  recreate(*db, "round",
           "(id int PRIMARY KEY, r real, d double precision, ts timestamp(6), t time, "
           "b bytea, j json)");
  recreate(*db, "round_copy", "(LIKE stream_it.round)");
  const std::string name = unique_name("round");
  {
    Subscription sub(shared_server(), name, "round");
    db->execute(
        "INSERT INTO stream_it.round VALUES (1, 0.1, 1e-300, '1999-12-31 23:59:59.999999', "
        "'24:00', '\\x5c27000a', '{ \"spaced\" : 1 }')");
    const std::vector<ChangeEvent> changes = flatten(collect(*sub.stream, 1));
    REQUIRE(changes.size() == 1);
    const Row& row = *changes[0].after;
    std::vector<std::string> params;
    for (const Value& value : row) {
      params.push_back(value.text);
    }
    // bytea is bound from its decoded bytes, as an applier would with a binary parameter.
    params[5] = "\\x5c27000a";
    CHECK(row[5].text == std::string("\x5c\x27\x00\x0a", 4));
    db->query("INSERT INTO stream_it.round_copy VALUES ($1, $2, $3, $4, $5, $6, $7)", params);
    CHECK(db->query_value("SELECT count(*) FROM stream_it.round a JOIN stream_it.round_copy b "
                          "ON a.id = b.id AND a.r = b.r AND a.d = b.d AND a.ts = b.ts AND "
                          "a.t = b.t AND a.b = b.b AND a.j::text = b.j::text") == "1");
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("a multi-statement transaction arrives whole; a rolled-back one never arrives") {
  auto db = postgres_admin();
  recreate(*db, "tx", "(id int PRIMARY KEY, v int)");
  const std::string name = unique_name("tx");
  {
    Subscription sub(shared_server(), name, "tx");
    db->execute("BEGIN");
    db->execute("INSERT INTO stream_it.tx VALUES (1, 1), (2, 2)");
    db->execute("UPDATE stream_it.tx SET v = 10 WHERE id = 1");
    db->execute("DELETE FROM stream_it.tx WHERE id = 2");
    db->execute("COMMIT");
    db->execute("BEGIN");
    db->execute("INSERT INTO stream_it.tx VALUES (99, 99)");
    db->execute("ROLLBACK");
    db->execute("INSERT INTO stream_it.tx VALUES (3, 3)");
    const std::vector<Transaction> transactions = collect(*sub.stream, 5, 10s);
    REQUIRE(transactions.size() == 2);
    CHECK(transactions[0].changes.size() == 4);
    REQUIRE(transactions[1].changes.size() == 1);
    CHECK(transactions[1].changes[0].key_after == Row{num("3")});
    // Nothing more: the rolled-back insert of 99 must not show up later either.
    CHECK(collect(*sub.stream, 1, 1s).empty());
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("a large TOASTed value left untouched by an update is reported unchanged") {
  auto db = postgres_admin();
  recreate(*db, "toast", "(id int PRIMARY KEY, big text, n int)");
  recreate(*db, "toast_full", "(id int PRIMARY KEY, big text, n int)");
  db->execute("ALTER TABLE stream_it.toast_full REPLICA IDENTITY FULL");
  // md5 text barely compresses, so 200 kB of it is stored out of line.
  const std::string big = "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 6000) g)";
  const std::string name = unique_name("toast");
  {
    Subscription sub(shared_server(), name, "toast");
    db->execute("INSERT INTO stream_it.toast VALUES (1, " + big + ", 1)");
    db->execute("UPDATE stream_it.toast SET n = 2 WHERE id = 1");
    const std::vector<ChangeEvent> changes = flatten(collect(*sub.stream, 2));
    REQUIRE(changes.size() == 2);
    CHECK((*changes[0].after)[1].text.size() == 6000 * 32);
    CHECK((*changes[1].after)[1].kind == ValueKind::unchanged);
    CHECK((*changes[1].after)[2] == num("2"));
  }
  {
    Subscription sub(shared_server(), name + "_full", "toast_full");
    db->execute("INSERT INTO stream_it.toast_full VALUES (1, " + big + ", 1)");
    db->execute("UPDATE stream_it.toast_full SET n = 2 WHERE id = 1");
    db->execute("DELETE FROM stream_it.toast_full WHERE id = 1");
    const std::vector<ChangeEvent> changes = flatten(collect(*sub.stream, 3));
    REQUIRE(changes.size() == 3);
    // FULL adds the whole old row, but the new one still leaves the TOASTed value out.
    REQUIRE(changes[1].before.has_value());
    CHECK((*changes[1].before)[1].text.size() == 6000 * 32);
    CHECK((*changes[1].after)[1].kind == ValueKind::unchanged);
    REQUIRE(changes[2].before.has_value());
    CHECK((*changes[2].before)[2] == num("2"));
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("replica identity USING INDEX keys the stream on that index") {
  auto db = postgres_admin();
  recreate(*db, "ident", "(id int PRIMARY KEY, code text NOT NULL, v int)");
  db->execute("CREATE UNIQUE INDEX ident_code ON stream_it.ident (code)");
  db->execute("ALTER TABLE stream_it.ident REPLICA IDENTITY USING INDEX ident_code");
  const std::string name = unique_name("ident");
  {
    Subscription sub(shared_server(), name, "ident");
    db->execute("INSERT INTO stream_it.ident VALUES (1, 'a', 1)");
    db->execute("UPDATE stream_it.ident SET code = 'b' WHERE id = 1");
    db->execute("DELETE FROM stream_it.ident WHERE id = 1");
    const std::vector<ChangeEvent> changes = flatten(collect(*sub.stream, 3));
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].table->key_columns == std::vector<std::size_t>{1});
    CHECK(changes[1].key_before == Row{txt("a")});
    CHECK(changes[1].key_after == Row{txt("b")});
    CHECK(changes[2].key_before == Row{txt("b")});
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("truncate is reported as a truncate event") {
  auto db = postgres_admin();
  recreate(*db, "trunc", "(id int PRIMARY KEY)");
  const std::string name = unique_name("trunc");
  {
    Subscription sub(shared_server(), name, "trunc");
    db->execute("INSERT INTO stream_it.trunc VALUES (1)");
    db->execute("TRUNCATE stream_it.trunc");
    const std::vector<ChangeEvent> changes = flatten(collect(*sub.stream, 2));
    REQUIRE(changes.size() == 2);
    CHECK(changes[1].operation == Operation::truncate);
    CHECK(changes[1].table->table == "trunc");
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("a table without replica identity is refused before anything is created") {
  auto db = postgres_admin();
  recreate(*db, "nokey", "(a int, b text)");
  CHECK_THROWS_WITH_AS(
      pg::Publication(shared_server(), unique_name("nokey"), {QualifiedName{"stream_it", "nokey"}}),
      doctest::Contains("has no replica identity"), StreamError);
  recreate(*db, "nothing", "(id int PRIMARY KEY)");
  db->execute("ALTER TABLE stream_it.nothing REPLICA IDENTITY NOTHING");
  CHECK_THROWS_AS(pg::Publication(shared_server(), unique_name("nothing"),
                                  {QualifiedName{"stream_it", "nothing"}}),
                  StreamError);
  CHECK_THROWS_WITH_AS(pg::Publication(shared_server(), unique_name("missing"),
                                       {QualifiedName{"stream_it", "no_such_table"}}),
                       doctest::Contains("does not exist"), StreamError);
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("the slot advances only to confirmed positions; an exported snapshot sees the rest") {
  auto db = postgres_admin();
  recreate(*db, "confirm", "(id int PRIMARY KEY)");
  db->execute("INSERT INTO stream_it.confirm SELECT generate_series(1, 10)");
  const pg::ConnectionParams params = shared_server();
  const std::string name = unique_name("confirm");
  {
    pg::Publication publication(params, name, {QualifiedName{"stream_it", "confirm"}});
    pg::ReplicationSlot slot(params, name, /*export_snapshot=*/true);
    REQUIRE(slot.snapshot_name().has_value());
    db->execute("INSERT INTO stream_it.confirm VALUES (11)");
    {
      auto reader = postgres_admin();
      reader->execute("BEGIN ISOLATION LEVEL REPEATABLE READ");
      reader->execute("SET TRANSACTION SNAPSHOT '" + *slot.snapshot_name() + "'");
      CHECK(reader->query_value("SELECT count(*) FROM stream_it.confirm") == "10");
      reader->execute("COMMIT");
    }
    slot.release_snapshot();

    const std::vector<pg::SlotStatus> slots = pg::list_sluice_slots(params, 0);
    const auto mine = std::find_if(slots.begin(), slots.end(),
                                   [&](const pg::SlotStatus& s) { return s.name == slot.name(); });
    REQUIRE(mine != slots.end());
    CHECK_FALSE(mine->active);
    CHECK(mine->wal_status == "reserved");
    CHECK(mine->retained_bytes > 0);
    const std::vector<std::string> publications = pg::list_sluice_publications(params);
    CHECK(std::count(publications.begin(), publications.end(), publication.name()) == 1);

    auto confirmed_flush = [&] {
      return pg::parse_lsn(*db->query_value(
          "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
          {slot.name()}));
    };
    const std::uint64_t at_start = confirmed_flush();
    pg::PgOutputStream stream(
        params, {.slot = slot.name(), .publication = publication.name(), .start_lsn = 0});
    const std::vector<Transaction> first = collect(stream, 1, 10s, /*confirm=*/false);
    REQUIRE(first.size() == 1);
    CHECK(first[0].changes[0].key_after == Row{num("11")});
    std::this_thread::sleep_for(300ms);
    CHECK(confirmed_flush() == at_start);
    stream.confirm(first[0].commit_position);
    std::uint64_t now = at_start;
    for (int i = 0; i < 50 && now == at_start; ++i) {
      stream.next(100ms);
      now = confirmed_flush();
    }
    CHECK(now > first[0].commit_position.lsn);
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("writes to other tables come back as progress that releases the slot's WAL") {
  auto db = postgres_admin();
  recreate(*db, "quiet", "(id int PRIMARY KEY)");
  recreate(*db, "busy", "(id int PRIMARY KEY)");
  const std::string name = unique_name("quiet");
  {
    Subscription sub(shared_server(), name, "quiet");
    auto confirmed_flush = [&] {
      return pg::parse_lsn(*db->query_value(
          "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
          {sub.slot.name()}));
    };
    const std::uint64_t at_start = confirmed_flush();
    db->execute("INSERT INTO stream_it.busy SELECT generate_series(1, 1000)");
    const std::uint64_t written =
        pg::parse_lsn(*db->query_value("SELECT pg_current_wal_lsn()::text"));
    std::optional<Transaction> progress;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline &&
           (!progress || progress->commit_position.lsn < written - 1)) {
      if (std::optional<Transaction> transaction = sub.stream->next(200ms)) {
        CHECK(transaction->changes.empty());
        progress = std::move(transaction);
        sub.stream->confirm(progress->commit_position);
      }
    }
    REQUIRE(progress.has_value());
    CHECK(progress->commit_position.lsn >= written - 1);
    for (int i = 0; i < 50 && confirmed_flush() <= at_start; ++i) {
      sub.stream->next(100ms);
    }
    CHECK(confirmed_flush() > at_start);
    // A change to the streamed table after the progress still arrives.
    db->execute("INSERT INTO stream_it.quiet VALUES (1)");
    CHECK(flatten(collect(*sub.stream, 1)).size() == 1);
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("after the connection is killed the stream resumes with nothing lost or repeated") {
  auto db = postgres_admin();
  recreate(*db, "kill", "(id int PRIMARY KEY)");
  const std::string name = unique_name("kill");
  {
    Subscription sub(shared_server(), name, "kill");
    for (int i = 1; i <= 20; ++i) {
      db->execute("INSERT INTO stream_it.kill VALUES (" + std::to_string(i) + ")");
    }
    std::map<std::string, int> seen;
    // Read 20 transactions but confirm only the first 10: the server resends 11..20.
    std::vector<Transaction> before = collect(*sub.stream, 20, 10s, /*confirm=*/false);
    REQUIRE(before.size() == 20);
    sub.stream->confirm(before[9].commit_position);
    for (const ChangeEvent& change : flatten(before)) {
      ++seen[change.key_after[0].text];
    }
    CHECK(db->query_value("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                          "WHERE slot_name = $1",
                          {sub.slot.name()}) == "t");
    for (int i = 21; i <= 40; ++i) {
      db->execute("INSERT INTO stream_it.kill VALUES (" + std::to_string(i) + ")");
    }
    for (const ChangeEvent& change : flatten(collect(*sub.stream, 20, 20s))) {
      ++seen[change.key_after[0].text];
    }
    CHECK(seen.size() == 40);
    for (const auto& [id, count] : seen) {
      CHECK_MESSAGE(count == 1, "id " << id << " arrived " << count << " times");
    }
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("a connection killed in the middle of a large transaction delivers it once, whole") {
  auto db = postgres_admin();
  recreate(*db, "big", "(id int PRIMARY KEY, note text)");
  const std::string name = unique_name("big");
  {
    Subscription sub(shared_server(), name, "big");
    db->execute(
        "INSERT INTO stream_it.big SELECT g, md5(g::text) FROM generate_series(1, 50000) g");
    db->execute("INSERT INTO stream_it.big VALUES (0, 'after')");
    std::thread killer([&] {
      auto admin = postgres_admin();
      std::this_thread::sleep_for(30ms);
      admin->query(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
          "WHERE slot_name = $1",
          {sub.slot.name()});
    });
    const std::vector<Transaction> transactions = collect(*sub.stream, 50001, 30s);
    killer.join();
    REQUIRE(transactions.size() == 2);
    CHECK(transactions[0].changes.size() == 50000);
    CHECK(transactions[1].changes.size() == 1);
    std::vector<int> seen(50001, 0);
    for (const ChangeEvent& change : flatten(transactions)) {
      ++seen.at(static_cast<std::size_t>(std::stoi(change.key_after[0].text)));
    }
    CHECK(std::count(seen.begin(), seen.end(), 1) == 50001);
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("a server restart mid-stream loses and repeats no transaction") {
  PrivateServer server(ServerKind::postgres, "");
  const pg::ConnectionParams params{server.dsn(), std::nullopt};
  sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  const std::string data_dir = *db.query_value("SHOW data_directory");
  recreate(db, "restart", "(id int PRIMARY KEY)");
  std::map<std::string, int> seen;
  {
    pg::StreamOptions options;
    options.reconnect_timeout = 30s;
    Subscription sub(params, "restart", "restart", options);
    for (int i = 1; i <= 30; ++i) {
      db.execute("INSERT INTO stream_it.restart VALUES (" + std::to_string(i) + ")");
    }
    std::vector<Transaction> before = collect(*sub.stream, 30, 10s, /*confirm=*/false);
    REQUIRE(before.size() == 30);
    sub.stream->confirm(before[14].commit_position);
    for (const ChangeEvent& change : flatten(before)) {
      ++seen[change.key_after[0].text];
    }
    // Restart in place while the stream keeps reading (as its user would): a shutting-down
    // walsender waits for its client's answer. The new postmaster pid goes where scripts/dbs
    // stop looks for it.
    std::atomic<int> restarted = -1;
    std::string output;
    std::thread restart([&] {
      restarted =
          shell("runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D '" + data_dir +
                    "' -m fast -w restart -l '" + data_dir + "/../server.log' && head -n 1 '" +
                    data_dir + "/postmaster.pid' > '" + data_dir + "/../../postgres.pid'",
                &output);
    });
    const auto started = std::chrono::steady_clock::now();
    while (restarted < 0 && std::chrono::steady_clock::now() - started < 30s) {
      if (std::optional<Transaction> transaction = sub.stream->next(100ms)) {
        for (const ChangeEvent& change : transaction->changes) {
          ++seen[change.key_after[0].text];
        }
      }
    }
    restart.join();
    REQUIRE_MESSAGE(restarted == 0, output);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    sluice::postgres::Connection after(sluice::parse_dsn(server.dsn()), std::nullopt);
    for (int i = 31; i <= 60; ++i) {
      after.execute("INSERT INTO stream_it.restart VALUES (" + std::to_string(i) + ")");
    }
    for (const ChangeEvent& change : flatten(collect(*sub.stream, 30, 30s))) {
      ++seen[change.key_after[0].text];
    }
    CHECK(sub.stream->connected());
  }
  CHECK(seen.size() == 60);
  for (const auto& [id, count] : seen) {
    CHECK_MESSAGE(count == 1, "id " << id << " arrived " << count << " times");
  }
  sluice::postgres::Connection check(sluice::parse_dsn(server.dsn()), std::nullopt);
  check_nothing_left(check, "");
}

TEST_CASE("a server that stays down ends the stream with a StreamError after the timeout") {
  PrivateServer server(ServerKind::postgres, "");
  const pg::ConnectionParams params{server.dsn(), std::nullopt};
  sluice::postgres::Connection db(sluice::parse_dsn(server.dsn()), std::nullopt);
  const std::string data_dir = *db.query_value("SHOW data_directory");
  recreate(db, "down", "(id int PRIMARY KEY)");
  pg::StreamOptions options;
  options.reconnect_timeout = 1s;
  Subscription sub(params, "down", "down", options);
  sub.publication.release();  // the server is gone when they would be dropped
  sub.slot.release();
  std::atomic<bool> stopped = false;
  std::thread stop([&] {
    shell("runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D '" + data_dir +
          "' -m fast -w stop");
    stopped = true;
  });
  const auto start = std::chrono::steady_clock::now();
  bool failed = false;
  while (!failed && std::chrono::steady_clock::now() - start < 20s) {
    try {
      sub.stream->next(100ms);
    } catch (const StreamError& error) {
      failed = true;
      CHECK(std::string(error.what()).find("could not reconnect within 1 s") != std::string::npos);
    }
  }
  stop.join();
  CHECK(stopped);
  CHECK(failed);
  CHECK_FALSE(sub.stream->connected());
}

TEST_CASE("a dropped slot ends the stream with a StreamError instead of retrying forever") {
  auto db = postgres_admin();
  recreate(*db, "gone", "(id int PRIMARY KEY)");
  const pg::ConnectionParams params = shared_server();
  const std::string name = unique_name("gone");
  {
    pg::Publication publication(params, name, {QualifiedName{"stream_it", "gone"}});
    std::string slot_name;
    {
      pg::ReplicationSlot slot(params, name, false);
      slot_name = slot.name();
    }
    CHECK_THROWS_WITH_AS(
        pg::PgOutputStream(params, {.slot = slot_name, .publication = publication.name()}),
        doctest::Contains("does not exist"), StreamError);
  }
  check_nothing_left(*db, "it_" + std::to_string(getpid()) + "_");
}

TEST_CASE("sluice stream prints changes live and leaves nothing behind when stopped") {
  int signal = SIGTERM;
  SUBCASE("by SIGTERM") {
    signal = SIGTERM;
  }
  SUBCASE("by Ctrl-C (SIGINT)") {
    signal = SIGINT;
  }
  auto db = postgres_admin();
  recreate(*db, "cli", "(id int PRIMARY KEY, note text)");
  SluiceProcess process(
      {"stream", "--dsn", server_dsn(ServerKind::postgres), "--table", "stream_it.cli"});
  const std::string prefix = "stream_" + std::to_string(process.pid()) + "_";
  // A slot is already active while it is being created, before its consistent point: changes
  // committed then are never decoded. confirmed_flush_lsn is set only once that point is
  // reached, so the writes below start after it.
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    std::this_thread::sleep_for(100ms);
    ready = db->query_value(
                "SELECT active AND confirmed_flush_lsn IS NOT NULL "
                "FROM pg_replication_slots WHERE slot_name LIKE $1",
                {sluice_prefix_pattern(prefix)}) == "t";
  }
  REQUIRE(ready);
  db->execute("INSERT INTO stream_it.cli VALUES (1, 'one'), (2, NULL)");
  db->execute("UPDATE stream_it.cli SET id = 3 WHERE id = 2");
  db->execute("DELETE FROM stream_it.cli WHERE id = 1");
  const std::string output = process.read_lines(4, 10s);
  CHECK(output.find("insert stream_it.cli key (1) after (1, 'one') at ") != std::string::npos);
  CHECK(output.find("insert stream_it.cli key (2) after (2, NULL) at ") != std::string::npos);
  CHECK(output.find("update stream_it.cli key (2) -> (3) after (3, NULL) at ") !=
        std::string::npos);
  CHECK(output.find("delete stream_it.cli key (1) at ") != std::string::npos);
  CHECK(process.stop(signal) == 0);
  check_nothing_left(*db, prefix);
}

TEST_CASE("sluice stream refuses a table without replica identity and one that does not exist") {
  auto db = postgres_admin();
  recreate(*db, "cli_nokey", "(a int)");
  RunResult refused = run_sluice(
      {"stream", "--dsn", server_dsn(ServerKind::postgres), "--table", "stream_it.cli_nokey"});
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("has no replica identity") != std::string::npos);
  RunResult missing = run_sluice(
      {"stream", "--dsn", server_dsn(ServerKind::postgres), "--table", "stream_it.missing"});
  CHECK(missing.exit_code == 4);
  check_nothing_left(*db, "stream_");
}

// A password given by --password-file or by the environment (MYSQL_PWD / PGPASSWORD) never
// appears in sluice's logs (stderr, at debug level), its output, `sluice status`, the
// environment its hooks get, its error messages, or its process title (/proc/<pid>/cmdline),
// on both servers.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/support.h"

using sluice::ServerKind;
using namespace sluice::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A scratch directory with a password file, hooks that save their environment, and a throttle
// flag file, removed at the end.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& password) {
    char name[] = "/tmp/sluice-secrets-XXXXXX";
    dir = ::mkdtemp(name);
    std::ofstream(dir / "password") << password << "\n";
    fs::create_directory(dir / "hooks");
    for (const char* hook : {"on-startup", "on-begin-copy", "on-status", "on-before-cut-over",
                             "on-success", "on-failure"}) {
      const fs::path script = dir / "hooks" / hook;
      // Written aside and renamed, so the test never reads a half-written file.
      const std::string saved = (dir / "env-").string() + hook;
      std::ofstream(script) << "#!/bin/sh\nenv > \"" << saved << ".part\" && mv \"" << saved
                            << ".part\" \"" << saved << "\"\n";
      fs::permissions(script, fs::perms::owner_all);
    }
    std::ofstream(dir / "throttle") << "\n";
  }
  ~Scratch() { fs::remove_all(dir); }
};

// The role may have created sluice's phase metadata when it ran first: that stays, owned by the
// administrator, for the tests running beside this one.
const std::string kDropPostgresRole =
    "DO $$BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sec_user') THEN "
    "REASSIGN OWNED BY sec_user TO CURRENT_USER; DROP OWNED BY sec_user; DROP ROLE sec_user; "
    "END IF; END$$;";

struct Server {
  ServerKind kind;
  std::string user_dsn;  // the DSN of a user who has the password
  std::string password_variable;
  std::string table;
  std::string alter;
};

// Creates the user with `password` and a small table it may migrate.
Server prepare(ServerKind kind, const std::string& password) {
  if (kind == ServerKind::mysql) {
    auto db = mysql_admin();
    db->execute("DROP USER IF EXISTS 'sec_user'@'127.0.0.1'");
    db->execute("CREATE USER 'sec_user'@'127.0.0.1' IDENTIFIED BY " + db->quote_literal(password));
    db->execute("GRANT ALL ON *.* TO 'sec_user'@'127.0.0.1'");
    for (const char* name : {"sec_t", "_sec_t_old", "sec_t_sluice_new"}) {
      db->execute(std::string("DROP TABLE IF EXISTS ") + name);
    }
    db->execute("CREATE TABLE sec_t (id INT PRIMARY KEY, v INT)");
    db->execute("INSERT INTO sec_t SELECT seq, seq FROM seq_1_to_2000");
    std::string dsn = server_dsn(kind);
    dsn.replace(dsn.find("root@"), 5, "sec_user@");
    return {kind, dsn, "MYSQL_PWD", "sec_t", "MODIFY v BIGINT"};
  }
  auto db = postgres_admin();
  db->execute("DROP TABLE IF EXISTS sec_t, _sec_t_old, _sec_t_new; " + kDropPostgresRole +
              "CREATE ROLE sec_user LOGIN SUPERUSER; CREATE TABLE sec_t (id int PRIMARY KEY, v "
              "int); INSERT INTO sec_t SELECT g, g FROM generate_series(1, 2000) g");
  db->query("SELECT set_config('sluice.test_password', $1, false)", {password});
  db->execute(
      "DO $$BEGIN EXECUTE format('ALTER ROLE sec_user PASSWORD %L', "
      "current_setting('sluice.test_password')); END$$");
  std::string dsn = server_dsn(kind);
  dsn.replace(dsn.find("postgres@"), 9, "sec_user@");
  return {kind, dsn, "PGPASSWORD", "sec_t", "ALTER COLUMN v TYPE bigint"};
}

void drop_user(ServerKind kind) {
  if (kind == ServerKind::mysql) {
    mysql_admin()->execute("DROP USER 'sec_user'@'127.0.0.1'");
  } else {
    postgres_admin()->execute("DROP TABLE IF EXISTS sec_t, _sec_t_old; " + kDropPostgresRole);
  }
}

// Waits (bounded) until `path` exists.
bool appears(const fs::path& path) {
  for (int i = 0; i < 1200 && !fs::exists(path); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  return fs::exists(path);
}

// One migration that reads the password the given way, with every hook, debug logging and a
// pause in the copy, during which the process title is read.
void migrate_and_look_everywhere(const Server& server, const std::string& password,
                                 bool from_file) {
  Scratch scratch(password);
  std::vector<std::string> args = {"alter",
                                   server.user_dsn,
                                   "--table",
                                   server.table,
                                   "--alter",
                                   server.alter,
                                   "--execute",
                                   "--force-rebuild",
                                   "--hooks-path",
                                   (scratch.dir / "hooks").string(),
                                   "--throttle-flag-file",
                                   (scratch.dir / "throttle").string(),
                                   "--status-interval",
                                   "0.2"};
  args.insert(args.begin() + 1, "--dsn");
  // Two runs within one second would get the same default name.
  args.insert(args.end(), {"--name", "secrets-" + std::to_string(::getpid()) +
                                         (from_file ? "-file" : "-environment")});
  std::map<std::string, std::string> env = {{"SPDLOG_LEVEL", "debug"}};
  if (from_file) {
    args.insert(args.end(), {"--password-file", (scratch.dir / "password").string()});
  } else {
    env[server.password_variable] = password;
  }
  RunResult run;
  std::thread sluice([&] { run = run_sluice(args, env); });
  std::string title;
  if (appears(scratch.dir / "env-on-begin-copy")) {
    const std::string hook_env = read_file(scratch.dir / "env-on-begin-copy");
    const std::size_t at = hook_env.find("SLUICE_PID=");
    if (at != std::string::npos) {
      const std::string pid = hook_env.substr(at + 11, hook_env.find('\n', at) - at - 11);
      title = read_file("/proc/" + pid + "/cmdline");
    }
  }
  fs::remove(scratch.dir / "throttle");
  sluice.join();
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.find("debug") != std::string::npos);
  CHECK(run.out.find(password) == std::string::npos);
  CHECK(run.err.find(password) == std::string::npos);
  REQUIRE_FALSE(title.empty());
  CHECK(title.find(server.table) != std::string::npos);
  CHECK(title.find(password) == std::string::npos);
  int hooks_seen = 0;
  for (const auto& entry : fs::directory_iterator(scratch.dir)) {
    if (entry.path().filename().string().rfind("env-", 0) == 0) {
      ++hooks_seen;
      const std::string hook_env = read_file(entry.path());
      CAPTURE(entry.path().string());
      CHECK(hook_env.find("SLUICE_DSN=") != std::string::npos);
      CHECK(hook_env.find(password) == std::string::npos);
      CHECK(hook_env.find(server.password_variable) == std::string::npos);
    }
  }
  CHECK(hooks_seen >= 4);

  for (const std::vector<std::string>& status :
       {std::vector<std::string>{"status", "--dsn", server.user_dsn},
        std::vector<std::string>{"status", "--dsn", server.user_dsn, "--json"}}) {
    RunResult listed = run_sluice(status, {{server.password_variable, password}});
    INFO(listed.out << listed.err);
    CHECK(listed.exit_code == 0);
    CHECK(listed.out.find(server.table) != std::string::npos);
    CHECK(listed.out.find(password) == std::string::npos);
    CHECK(listed.err.find(password) == std::string::npos);
  }
}

// Failures that print the DSN or the server's message: the password must not be in them.
void fail_and_look_at_errors(const Server& server, const std::string& password) {
  Scratch scratch(password);
  std::string wrong_port = server.user_dsn;
  const std::size_t colon = wrong_port.rfind(':');
  wrong_port.replace(colon + 1, wrong_port.find('/', colon) - colon - 1, "1");
  std::string wrong_db = server.user_dsn;
  wrong_db.replace(wrong_db.rfind('/'), std::string::npos, "/no_such_db");
  std::string wrong_host = server.user_dsn;
  wrong_host.replace(wrong_host.find("127.0.0.1"), 9, "no-such-host.invalid");
  for (const std::string& target : {wrong_port, wrong_db, wrong_host, server.user_dsn}) {
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--password-file", (scratch.dir / "password").string()},
          std::vector<std::string>{}}) {
      std::vector<std::string> args = {"alter",      "--dsn",         target,
                                       "--table",    "no_such_table", "--alter",
                                       server.alter, "--execute",     "--json"};
      args.insert(args.end(), extra.begin(), extra.end());
      RunResult run =
          run_sluice(args, {{server.password_variable, password}, {"SPDLOG_LEVEL", "debug"}});
      INFO(target << ": " << run.out << run.err);
      CHECK(run.exit_code != 0);
      CHECK(run.err.find("sluice: error:") != std::string::npos);
      CHECK(run.err.find(password) == std::string::npos);
      CHECK(run.out.find(password) == std::string::npos);
    }
  }
  // A wrong password is not echoed either.
  RunResult wrong = run_sluice({"check", "--dsn", server.user_dsn, "--table", server.table},
                               {{server.password_variable, password + "-typo"}});
  CHECK(wrong.exit_code == 3);
  CHECK(wrong.err.find(password) == std::string::npos);
}

void check_server(ServerKind kind) {
  // Characters a careless formatter or shell would mangle or split on.
  const std::string password = "Sec'ret \"pw\"; $HOME %s";
  const Server server = prepare(kind, password);
  SUBCASE("password from the environment") {
    migrate_and_look_everywhere(server, password, false);
  }
  SUBCASE("password from --password-file") {
    migrate_and_look_everywhere(server, password, true);
  }
  SUBCASE("error messages") {
    fail_and_look_at_errors(server, password);
  }
  drop_user(kind);
}

}  // namespace

TEST_CASE("MySQL: the password never appears in logs, status, hooks, errors or the title") {
  check_server(ServerKind::mysql);
}

TEST_CASE("PostgreSQL: the password never appears in logs, status, hooks, errors or the title") {
  check_server(ServerKind::postgres);
}

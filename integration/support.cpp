#include "integration/support.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "src/server_family.h"

extern char** environ;

namespace sluice::test {

std::string server_dsn(ServerKind kind) {
  const char* name = kind == ServerKind::mysql ? "SLUICE_TEST_MYSQL_DSN" : "SLUICE_TEST_PG_DSN";
  const char* value = std::getenv(name);
  if (!value) {
    FAIL(std::string(name)
         << " is not set: run `eval \"$(scripts/dbs start)\"` before the integration tests");
  }
  return value;
}

std::unique_ptr<mysql::Connection> mysql_admin() {
  return std::make_unique<mysql::Connection>(parse_dsn(server_dsn(ServerKind::mysql)),
                                             std::nullopt);
}

void check_refusal(const RunResult& run, int exit_code, const std::string& reason) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  CHECK(run.exit_code == exit_code);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  CHECK(run.err.rfind("sluice: error: ", 0) == 0);
  CHECK(run.err.find(reason) != std::string::npos);
}

bool mysql_table_exists(mysql::Connection& db, const std::string& table) {
  return !db.query("SHOW TABLES LIKE " + db.quote_literal(table)).empty();
}

std::string mysql_column_type(mysql::Connection& db, const std::string& table,
                              const std::string& column) {
  return db
      .query_value(
          "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
          "DATABASE() AND TABLE_NAME = " +
          db.quote_literal(table) + " AND COLUMN_NAME = " + db.quote_literal(column))
      .value_or("");
}

bool pg_table_exists(postgres::Connection& db, const std::string& table) {
  return db.query_value("SELECT to_regclass($1)::text", {"public.\"" + table + "\""}).has_value();
}

std::string pg_column_type(postgres::Connection& db, const std::string& table,
                           const std::string& column) {
  return db
      .query_value(
          "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
          "to_regclass($1) AND attname = $2 AND NOT attisdropped",
          {"public.\"" + table + "\"", column})
      .value_or("");
}

std::unique_ptr<postgres::Connection> postgres_admin() {
  return std::make_unique<postgres::Connection>(parse_dsn(server_dsn(ServerKind::postgres)),
                                                std::nullopt);
}

namespace {

void drain(int fd, std::string& into) {
  std::array<char, 65536> buffer;
  ssize_t n = read(fd, buffer.data(), buffer.size());
  if (n > 0) {
    into.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

// In a forked child: replaces the process with the built sluice and `args`.
[[noreturn]] void exec_sluice(const std::vector<std::string>& args) {
  std::vector<std::string> storage = {SLUICE_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

RunResult run_sluice(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int devnull = open("/dev/null", 0);
    dup2(devnull, STDIN_FILENO);
    for (const auto& [key, value] : env) {
      setenv(key.c_str(), value.c_str(), 1);
    }
    exec_sluice(args);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  RunResult result;
  std::array<pollfd, 2> fds = {pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    poll(fds.data(), fds.size(), -1);
    for (pollfd& fd : fds) {
      if (fd.fd >= 0 && (fd.revents & (POLLIN | POLLHUP))) {
        std::string& into = &fd == &fds[0] ? result.out : result.err;
        std::size_t before = into.size();
        drain(fd.fd, into);
        if (into.size() == before) {
          close(fd.fd);
          fd.fd = -1;
          --open_fds;
        }
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = exit_code_of(status);
  return result;
}

SluiceProcess::SluiceProcess(const std::vector<std::string>& args, bool with_stderr) {
  int out[2];
  if (pipe(out) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (with_stderr) {
      dup2(out[1], STDERR_FILENO);
    }
    close(out[0]);
    exec_sluice(args);
  }
  close(out[1]);
  fd_ = out[0];
}

SluiceProcess::~SluiceProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(fd_);
}

template <typename Done>
void SluiceProcess::read_until(Done done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    pollfd descriptor{fd_, POLLIN, 0};
    if (poll(&descriptor, 1, 100) > 0) {
      std::array<char, 4096> buffer;
      const ssize_t n = read(fd_, buffer.data(), buffer.size());
      if (n <= 0) {
        return;
      }
      out_.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }
}

bool SluiceProcess::wait_for(const std::string& text, std::chrono::milliseconds limit) {
  read_until([&] { return out_.find(text) != std::string::npos; }, limit);
  return out_.find(text) != std::string::npos;
}

std::string SluiceProcess::read_lines(std::size_t lines, std::chrono::milliseconds limit) {
  read_until(
      [&] { return static_cast<std::size_t>(std::count(out_.begin(), out_.end(), '\n')) >= lines; },
      limit);
  return out_;
}

int SluiceProcess::stop(int signal) {
  if (pid_ <= 0) {
    return -1;  // already reaped: never signal pid -1, which means every process
  }
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return exit_code_of(status);
}

int SluiceProcess::wait(std::chrono::milliseconds limit) {
  if (pid_ <= 0) {
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    read_until([] { return false; }, std::chrono::milliseconds(100));
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      read_until([] { return false; }, std::chrono::milliseconds(100));
      pid_ = -1;
      return exit_code_of(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int shell(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) {
    throw std::runtime_error("popen failed for: " + command);
  }
  std::array<char, 4096> buffer;
  std::string collected;
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) {
    collected.append(buffer.data(), n);
  }
  int status = pclose(pipe);
  if (output) {
    *output = collected;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

namespace {

// The value of `export NAME='value'` in what scripts/dbs printed; empty when absent.
std::string exported(const std::string& output, const std::string& name) {
  const std::string key = "export " + name + "='";
  std::size_t at = output.find(key);
  if (at == std::string::npos) {
    return "";
  }
  at += key.size();
  return output.substr(at, output.find('\'', at) - at);
}

}  // namespace

PrivateServer::PrivateServer(ServerKind kind, const std::string& settings, bool with_replica)
    : kind_(kind) {
  std::array<char, 64> dir_template{};
  std::snprintf(dir_template.data(), dir_template.size(), "/tmp/sluice-private-XXXXXX");
  if (!mkdtemp(dir_template.data())) {
    throw std::runtime_error("mkdtemp failed");
  }
  state_dir_ = dir_template.data();
  const bool mysql = kind == ServerKind::mysql;
  std::string command = std::string("SLUICE_DBS_DIR='") + state_dir_ + "' " +
                        (mysql ? "SLUICE_DBS_MYSQL_ARGS='" : "SLUICE_DBS_PG_SETTINGS='") +
                        settings + "' " SLUICE_SOURCE_DIR "/scripts/dbs start --only " +
                        (mysql ? "mysql" : "postgres") + (with_replica ? " --replica" : "");
  std::string output;
  if (shell(command, &output) != 0) {
    throw std::runtime_error("could not start a private server: " + output);
  }
  dsn_ = exported(output, mysql ? "SLUICE_TEST_MYSQL_DSN" : "SLUICE_TEST_PG_DSN");
  replica_dsn_ =
      exported(output, mysql ? "SLUICE_TEST_MYSQL_REPLICA_DSN" : "SLUICE_TEST_PG_STANDBY_DSN");
  if (dsn_.empty() || (with_replica && replica_dsn_.empty())) {
    throw std::runtime_error("scripts/dbs printed no DSN: " + output);
  }
}

void PrivateServer::restart(std::chrono::seconds down) {
  std::string output;
  if (shell("SLUICE_DBS_DIR='" + state_dir_ + "' " SLUICE_SOURCE_DIR "/scripts/dbs " +
                (kind_ == ServerKind::mysql ? "restart-mysql " : "restart-postgres ") +
                std::to_string(down.count()),
            &output) != 0) {
    throw std::runtime_error("could not restart the private server: " + output);
  }
}

PrivateServer::~PrivateServer() {
  shell("SLUICE_DBS_DIR='" + state_dir_ + "' " SLUICE_SOURCE_DIR "/scripts/dbs stop");
}

std::unique_ptr<PhaseStore> phase_store(const Dsn& dsn, const std::optional<std::string>& schema) {
  return server_family(dsn.kind).phase_store(dsn, std::nullopt, schema, "");
}

ScratchDir::ScratchDir() {
  char name[] = "/tmp/sluice-test-XXXXXX";
  REQUIRE(::mkdtemp(name) != nullptr);
  path_ = name;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void ScratchDir::touch(const std::string& name) const {
  std::ofstream(file(name)) << "";
}

void ScratchDir::remove(const std::string& name) const {
  std::filesystem::remove(file(name));
}

}  // namespace sluice::test

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "cli/control_options.h"
#include "cli/options.h"
#include "src/error.h"

namespace po = boost::program_options;

namespace {

struct ConfigFile {
  std::string path = "/tmp/sluice-config-test-" + std::to_string(::getpid()) + ".ini";
  explicit ConfigFile(const std::string& text) { std::ofstream(path) << text; }
  ~ConfigFile() { ::unlink(path.c_str()); }
};

// The options of a small command, as sluice alter declares them.
struct Options {
  std::string table;
  long chunk_ms = 0;
  bool execute = false;
  sluice::cli::ControlOptions control;
  po::options_description description{"test"};
  Options() {
    description.add_options()("table", po::value(&table)->required(), "")(
        "chunk-time", po::value(&chunk_ms)->default_value(500), "")("execute",
                                                                    po::bool_switch(&execute), "");
    control.add_to(description);
  }
  bool parse(const std::vector<std::string>& args) {
    return sluice::cli::parse_options(args, description, "test --table NAME");
  }
};

}  // namespace

TEST_CASE("options come from the config file and the command line wins") {
  ConfigFile file(
      "# nightly settings\n"
      "table = orders\n"
      "chunk-time = 200\n"
      "execute = true\n"
      "max-load = Threads_running=25\n"
      "throttle-flag-file = /tmp/throttle\n");
  Options options;
  REQUIRE(options.parse({"--config", file.path, "--chunk-time", "50"}));
  CHECK(options.table == "orders");  // a required option may come from the file
  CHECK(options.chunk_ms == 50);     // the command line wins
  CHECK(options.execute);
  CHECK(options.control.max_load == "Threads_running=25");
  CHECK(options.control.throttle_flag_file == "/tmp/throttle");
}

TEST_CASE("a file's default does not override an explicit command-line switch or value") {
  ConfigFile file("table = a\nnice-ratio = 0.5\n");
  Options options;
  REQUIRE(options.parse({"--config", file.path, "--table", "b", "--nice-ratio", "0"}));
  CHECK(options.table == "b");
  CHECK(options.control.nice_ratio == 0);
}

TEST_CASE("unknown keys, bad values and a missing file are usage errors") {
  {
    ConfigFile file("table = a\nchunk-tme = 5\n");
    Options options;
    CHECK_THROWS_AS(options.parse({"--config", file.path}), sluice::Error);
  }
  {
    ConfigFile file("table = a\nchunk-time = fast\n");
    Options options;
    CHECK_THROWS_AS(options.parse({"--config", file.path}), sluice::Error);
  }
  Options options;
  try {
    options.parse({"--config", "/nonexistent/sluice.ini"});
    FAIL("no error");
  } catch (const sluice::Error& error) {
    CHECK(error.code() == sluice::ExitCode::usage);
    CHECK(std::string(error.what()).find("/nonexistent/sluice.ini") != std::string::npos);
  }
}

TEST_CASE("control options are checked and become the controller's settings") {
  sluice::Dsn mysql;
  mysql.kind = sluice::ServerKind::mysql;
  {
    Options options;
    REQUIRE(
        options.parse({"--table", "t", "--max-load", "Threads_running=25", "--critical-load",
                       "Threads_running=100", "--critical-load-interval", "1500", "--nice-ratio",
                       "0.5", "--chunk-size", "300", "--status-interval", "1", "--json"}));
    const sluice::ControllerSettings settings = options.control.settings(mysql);
    CHECK(settings.throttle.max_load.size() == 1);
    CHECK(settings.throttle.critical_load_interval == std::chrono::milliseconds(1500));
    CHECK(settings.throttle.nice_ratio == 0.5);
    CHECK(settings.chunk_rows == 300u);
    CHECK(settings.progress.json);
    CHECK(settings.progress.interval == std::chrono::milliseconds(1000));
    CHECK(options.control.needs_probe());
  }
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--max-load", "Threads_running"},
        std::vector<std::string>{"--nice-ratio", "-1"},
        std::vector<std::string>{"--status-interval", "0"},
        std::vector<std::string>{"--chunk-size", "0"},
        std::vector<std::string>{"--chunk-size", "-5"},
        std::vector<std::string>{"--throttle-flag-file", "/nonexistent-sluice-dir/throttle"},
        std::vector<std::string>{"--postpone-cutover-flag-file", "/nonexistent-sluice-dir/p"},
        std::vector<std::string>{"--panic-flag-file", "/nonexistent-sluice-dir/panic"},
        std::vector<std::string>{"--serve-socket-file", "/nonexistent-sluice-dir/s.sock"},
        std::vector<std::string>{"--hooks-path", "/nonexistent-sluice-dir"},
        std::vector<std::string>{"--max-lag-millis", "1000"}}) {  // MySQL needs replicas
    Options options;
    std::vector<std::string> args = {"--table", "t"};
    args.insert(args.end(), bad.begin(), bad.end());
    REQUIRE(options.parse(args));
    CAPTURE(bad.front());
    try {
      options.control.settings(mysql);
      FAIL("accepted");
    } catch (const sluice::Error& error) {
      CHECK(error.code() == sluice::ExitCode::usage);
      const std::string message = error.what();
      CHECK(message.find(bad.front()) != std::string::npos);  // names the option at fault
      CHECK(message.find('\n') == std::string::npos);
    }
  }
  {
    // Unset: chunks sized by time. A flag file in an existing directory (relative too) is fine.
    Options options;
    REQUIRE(options.parse({"--table", "t", "--throttle-flag-file", "/tmp/sluice-throttle",
                           "--panic-flag-file", "panic"}));
    CHECK_FALSE(options.control.settings(mysql).chunk_rows);
  }
  Options replicas;
  REQUIRE(replicas.parse({"--table", "t", "--max-lag-millis", "1000", "--throttle-control-replicas",
                          "mysql://r@a:1,mysql://r@b:2"}));
  CHECK(replicas.control.replica_list() ==
        std::vector<std::string>{"mysql://r@a:1", "mysql://r@b:2"});
  CHECK_NOTHROW(replicas.control.settings(mysql));
}

#include <csignal>
#include <iostream>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "replication/change_event.h"
#include "replication/stream_error.h"
#include "src/change_stream_factory.h"
#include "src/error.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

constexpr std::chrono::milliseconds kPollInterval{250};

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) {
  stop_requested = 1;
}

// Restores the previous SIGINT/SIGTERM handlers when the command ends.
class StopSignals {
 public:
  StopSignals() {
    stop_requested = 0;
    previous_int_ = std::signal(SIGINT, request_stop);
    previous_term_ = std::signal(SIGTERM, request_stop);
  }
  ~StopSignals() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*previous_int_)(int) = SIG_DFL;
  void (*previous_term_)(int) = SIG_DFL;
};

}  // namespace

int run_stream(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string table;
  std::uint32_t server_id = 0;
  po::options_description description("sluice stream options");
  connection.add_to(description);
  description.add_options()("table", po::value(&table)->required(),
                            "table to follow: name or database.name")(
      "server-id", po::value(&server_id),
      "replica server id to register with (non-zero, unique among the server's replicas); "
      "derived from the process id when not given");
  if (!parse_options(args, description, "sluice stream --dsn URL --table NAME [--server-id N]")) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  StopSignals signals;
  std::unique_ptr<replication::ChangeStream> stream =
      open_change_stream(dsn, connection.resolve_password(dsn), table, server_id);
  try {
    while (!stop_requested) {
      std::optional<replication::Transaction> transaction = stream->next(kPollInterval);
      if (!transaction) {
        continue;
      }
      for (const replication::ChangeEvent& change : transaction->changes) {
        std::cout << replication::format_change(change) << '\n';
      }
      std::cout.flush();
      stream->confirm(transaction->commit_position);
    }
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::stream, error.what());
  }
  return 0;
}

}  // namespace sluice::cli

#include <csignal>
#include <iostream>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "replication/change_event.h"
#include "src/change_stream_factory.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) {
  stop_requested = 1;
}

// SIGINT and SIGTERM only set a flag: the loop then ends and the stream's destructor removes
// the slot and publication it created. Installed before the stream is opened, so a signal that
// arrives while the slot is being created still leads to that cleanup.
void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int run_stream(const std::vector<std::string>& args) {
  ConnectionOptions connection;
  std::string table;
  po::options_description description("sluice stream options");
  connection.add_to(description);
  description.add_options()("table", po::value(&table)->required(),
                            "table to stream: name or schema.name (MySQL: database.name)");
  if (!parse_options(args, description, "sluice stream --dsn URL --table NAME")) {
    return 0;
  }
  const Dsn dsn = connection.dsn();
  const std::optional<std::string> password = connection.resolve_password(dsn);
  catch_stop_signals();
  std::unique_ptr<replication::ChangeStream> stream = open_change_stream(dsn, password, table);
  std::cerr << "sluice: streaming changes of " << table << " on " << dsn.display()
            << "; stop with Ctrl-C\n";
  while (!stop_requested) {
    const std::optional<replication::Transaction> transaction =
        stream->next(std::chrono::milliseconds(200));
    if (!transaction) {
      continue;
    }
    for (const replication::ChangeEvent& change : transaction->changes) {
      std::cout << replication::format_change(change) << '\n';
    }
    std::cout.flush();
    stream->confirm(transaction->commit_position);
  }
  return 0;
}

}  // namespace sluice::cli

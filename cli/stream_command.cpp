#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/command.h"
#include "cli/connection_options.h"
#include "cli/options.h"
#include "cli/stop_signals.h"
#include "replication/change_event.h"
#include "replication/stream_error.h"
#include "src/error.h"
#include "src/server_family.h"
#include "src/stream_errors.h"

namespace sluice::cli {
namespace {

namespace po = boost::program_options;

constexpr std::chrono::milliseconds kPollInterval{250};

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
  std::unique_ptr<replication::ChangeStream> stream = server_family(dsn.kind).change_stream(
      dsn, connection.resolve_password(dsn), table, server_id);
  spdlog::info("following {}: every change committed from now on is printed; Ctrl-C stops", table);
  try {
    while (!StopSignals::requested().load()) {
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
    throw_stream_failure(error);
  }
  return 0;
}

}  // namespace sluice::cli

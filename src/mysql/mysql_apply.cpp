#include "src/mysql/mysql_apply.h"

#include <chrono>
#include <thread>

#include "src/error.h"
#include "src/lock_retry.h"
#include "src/mysql/mysql_apply_sql.h"

namespace sluice::mysql {
namespace {

// How long a logged transaction may take to become visible: the server commits it in the
// engine right after writing it to the binlog, so this only runs out on a server in trouble.
constexpr std::chrono::seconds kVisibleTimeout{60};

}  // namespace

void MysqlApply::wait_until_visible(const replication::Position& through) {
  const auto deadline = std::chrono::steady_clock::now() + kVisibleTimeout;
  while (compare_positions(visible_log_position(sessions_.apply()), through) < 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ExitCode::stream, "the server logged changes up to " + to_string(through) +
                                        " but has not made them visible within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void MysqlApply::resync(const std::vector<replication::Row>& keys,
                        const replication::Position& through) {
  std::vector<std::string> statements = delete_keys_sql(plan_, keys);
  for (std::string& statement : resync_rows_sql(plan_, keys)) {
    statements.push_back(std::move(statement));
  }
  if (Connection* locked = sessions_.locked_apply()) {
    // Under the cut-over's LOCK TABLES … WRITE every writer has ended, so everything logged is
    // visible. The statements commit one by one (a transaction would give the locks back);
    // nobody reads the shadow meanwhile, and a drain cut short is redone from the checkpoint.
    for (const std::string& statement : statements) {
      locked->execute(statement);
    }
    return;
  }
  // Redoing a batch only copies the source's current rows again: safe after a commit whose
  // acknowledgement was lost, and after a lost row lock (the transaction rolled back whole).
  sessions_.reconnecting("applying changes", [&] {
    wait_until_visible(through);
    return retry_lock_waits("applying changes", row_lock_policy(), [&] {
      Connection& apply = sessions_.apply();
      Transaction transaction(apply, "START TRANSACTION");
      for (const std::string& statement : statements) {
        apply.execute(statement);
      }
      transaction.commit();
      return 0;
    });
  });
}

}  // namespace sluice::mysql

#include "src/rebuild_backend.h"

#include "ddl/ddl_error.h"
#include "src/error.h"

namespace sluice {

LockRetryPolicy cut_over_lock_policy(const RebuildOptions& options) {
  LockRetryPolicy policy;
  policy.timeout = options.cutover_lock_timeout;
  policy.attempts = options.cutover_attempts;
  policy.first_pause = std::chrono::milliseconds(500);
  return policy;
}

ddl::AlterAnalysis analyze_alter_option(ddl::Dialect dialect, const std::string& alter) {
  try {
    return ddl::analyze_alter(dialect, alter);
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --alter: ") + error.what());
  }
}

}  // namespace sluice

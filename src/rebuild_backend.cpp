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

std::string old_suffix(int generation) {
  return generation <= 1 ? std::string("_old") : "_old" + std::to_string(generation);
}

std::string pick_old_suffix(const RebuildOptions& options, const std::string& table,
                            const std::function<bool(const std::string& suffix)>& taken) {
  if (!options.old_suffix.empty()) {
    return options.old_suffix;
  }
  if (options.resume) {
    return old_suffix(1);
  }
  for (int generation = 1; generation <= kMaxOldTables; ++generation) {
    if (!taken(old_suffix(generation))) {
      return old_suffix(generation);
    }
  }
  throw Error(ExitCode::preflight_failed,
              table + " already has " + std::to_string(kMaxOldTables) +
                  " old tables kept by earlier migrations; drop those you no longer need (sluice "
                  "contract NAME, see sluice status), then run sluice alter again");
}

ddl::AlterAnalysis analyze_alter_option(ddl::Dialect dialect, const std::string& alter) {
  try {
    return ddl::analyze_alter(dialect, alter);
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --alter: ") + error.what());
  }
}

}  // namespace sluice

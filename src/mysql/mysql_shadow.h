#pragma once

#include <string>
#include <vector>

#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_table_plan.h"
#include "src/rebuild_backend.h"

namespace sluice::mysql {

// The shadow role of a MySQL rebuild: plans the run (preflight, the ALTER's analysis, the
// helper tables' names), creates, adopts and drops the shadow table, applies a change in place
// when the server can, settles a cut-over a killed run left half done, and cleans up after a
// crashed one. Only ever drops tables whose names derive from the table's (see
// mysql_shadow_sql.h for why those names extend the table's name), a sentry only when it carries
// the sentry's comment, never the table itself or an old table kept after a swap.
class MysqlShadow {
 public:
  explicit MysqlShadow(MysqlSessions& sessions) : sessions_(sessions) {}

  // RebuildBackend::plan: throws Error naming the fix when the table or the change cannot be
  // migrated online, or a helper table's name is taken. Fills table().
  const RebuildPlan& plan(const RebuildOptions& options);
  // What the other roles read; complete once attach_shadow() returned.
  const MysqlTablePlan& table() const { return table_; }

  // RebuildBackend::apply_in_place: ALGORITHM=INSTANT, waiting for the table's lock as the
  // cut-over does (cut_over_lock_policy). Returns false when the server would have to copy.
  bool apply_in_place(const RebuildOptions& options);
  // RebuildBackend::create_shadow, attach_shadow and drop_shadow. attach_shadow opens the
  // applier's session. With `hold_back`, the shadow's plain secondary indexes are dropped until
  // build_held_back_indexes(), its table comment recording them (HeldBackIndexes) so that
  // attach_shadow() in a resumed run knows them too.
  void create_shadow(bool hold_back);
  void attach_shadow();
  void drop_shadow();
  // RebuildBackend::complete_shadow: builds the indexes create_shadow() held back, in one
  // online ALTER that also gives the shadow its own comment back. Does nothing when none are.
  void build_held_back_indexes();
  // RebuildBackend::complete_interrupted_swap and cleanup, by the table's name as typed.
  bool complete_interrupted_swap(const std::string& table, const std::string& old_suffix);
  std::vector<std::string> cleanup(const std::string& table);
  // Drops the old table the cut-over kept.
  void drop_old_table();
  // RebuildBackend::revert_losses, adopt_old_table and restore_old_table.
  std::vector<std::string> revert_losses(const std::string& table, const std::string& old_table);
  // RebuildBackend::swap_revert_losses: the shadow compared with the table.
  std::vector<std::string> swap_revert_losses();
  void adopt_old_table(const std::string& table, const std::string& old_table);
  bool restore_old_table(const std::string& table, const std::string& old_table);

 private:
  bool table_exists(const ddl::QualifiedName& name);
  // What reverting from `name` (the new schema) into `old` would lose.
  std::vector<std::string> losses_between(const ddl::QualifiedName& name,
                                          const ddl::QualifiedName& old);
  std::string table_comment(const ddl::QualifiedName& name);
  void hold_back_indexes();
  // Fills MysqlTablePlan::held_back_indexes and shadow_comment from the shadow's comment.
  void read_held_back_indexes();
  // Whether `name` is a cut-over sentry (it carries kSentryComment).
  bool is_sentry(const ddl::QualifiedName& name);
  // Throws Error(preflight_failed) when a helper table of the run is in the way (or, resuming,
  // the shadow to adopt is gone).
  void check_helper_names(const RebuildOptions& options);
  // Tries the ALTER on an empty temporary copy of the table (validation_ddl); throws
  // Error(ExitCode::usage) with the server's reason when the server refuses it.
  void validate_alter();
  // Fills MysqlTablePlan::filled: each column the ALTER adds whose default is the statement's
  // time gets one value for every row the copy and the applier write, as the server's own
  // ALTER gives the existing rows.
  void fill_statement_time_defaults(Connection& main);

  // A revert's plan (RebuildOptions::reverting_old_table): the columns of the table its shadow,
  // the adopted old table, lacks count as dropped.
  ddl::AlterAnalysis revert_analysis(const ddl::QualifiedName& table);
  // Renames table().shadow, an adopted old table, back to `old`; false when there is none or
  // `old` is taken.
  bool restore(const ddl::QualifiedName& old);

  MysqlSessions& sessions_;
  std::string reverting_old_table_;  // RebuildOptions::reverting_old_table of the plan
  RebuildPlan plan_;
  MysqlTablePlan table_;
};

}  // namespace sluice::mysql

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/dsn.h"
#include "src/mysql/mysql_apply.h"
#include "src/mysql/mysql_copy.h"
#include "src/mysql/mysql_cut_over.h"
#include "src/mysql/mysql_sessions.h"
#include "src/mysql/mysql_shadow.h"
#include "src/mysql/mysql_verify.h"
#include "src/rebuild_backend.h"

namespace sluice::mysql {

// The RebuildBackend for MySQL and MariaDB: shadow table by CREATE TABLE … LIKE + ALTER,
// chunked INSERT … SELECT copy, binlog change stream whose changed keys are re-read from the
// source, CRC32 chunk checksums inside a consistent snapshot, and the two-session sentry cut-over
// (docs/architecture.md), which works on MariaDB where RENAME TABLE under LOCK TABLES is refused.
// It delegates to one object per role, all reading the one MysqlTablePlan the shadow role fills:
// MysqlShadow (plan, shadow DDL, cleanup), MysqlCopy, MysqlApply, MysqlVerify and MysqlCutOver,
// over shared MysqlSessions.
class MysqlRebuild : public RebuildBackend, public CopySource {
 public:
  MysqlRebuild(const Dsn& dsn, const std::optional<std::string>& password);

  CopyPath copy_path() override { return static_cast<CopySource*>(this); }

  ddl::QualifiedName resolve_table(const std::string& table) override;
  const RebuildPlan& plan(const RebuildOptions& options) override;
  bool apply_in_place(const RebuildOptions& options) override;
  void create_shadow() override;
  void complete_shadow() override;
  void attach_shadow() override;
  bool complete_interrupted_swap(const std::string& table, const std::string& old_suffix) override;
  void drop_shadow() override;
  void reconnect() override;
  replication::Position log_position() override;
  std::unique_ptr<replication::ChangeStream> open_stream(
      const replication::Position& start) override;
  std::unique_ptr<VerifySnapshots> open_verify_snapshots(const DrainTo& drain_to) override;
  void recopy(const Mismatch& range) override;
  CutOverResult cut_over(const RebuildOptions& options, const DrainTo& drain_to) override;

  std::optional<replication::Row> chunk_end(const std::optional<replication::Row>& after,
                                            std::uint64_t rows) override;
  std::uint64_t copy_range(const std::optional<replication::Row>& after,
                           const replication::Row& up_to) override;
  // A ResyncApplier over MysqlApply: changed keys are re-read from the source.
  std::unique_ptr<ChangeApplier> make_applier() override;

  void drop_old_table() override;
  std::vector<std::string> cleanup(const std::string& table) override;
  std::vector<std::string> revert_losses(const std::string& table,
                                         const std::string& old_table) override;
  // SHOW BINARY LOGS still lists the position's file.
  bool log_retained(const Checkpoint& revert_point) override;
  std::vector<std::string> swap_revert_losses() override { return shadow_.swap_revert_losses(); }
  void adopt_old_table(const std::string& table, const std::string& old_table) override;
  bool restore_old_table(const std::string& table, const std::string& old_table) override;

 private:
  MysqlSessions sessions_;
  RebuildOptions options_;
  MysqlShadow shadow_;
  MysqlCopy copy_;
  MysqlApply apply_;
  MysqlVerify verify_;
  MysqlCutOver cut_over_;
};

}  // namespace sluice::mysql

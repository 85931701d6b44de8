#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/dsn.h"
#include "src/mysql/mysql_connection.h"
#include "src/rebuild_backend.h"

namespace sluice::mysql {

// The RebuildBackend for MySQL and MariaDB: shadow table by CREATE TABLE … LIKE + ALTER,
// chunked INSERT … SELECT copy, binlog change stream, CRC32 chunk checksums inside a consistent
// snapshot, and the two-session sentry cut-over (docs/architecture.md §3 rule 8), which works on MariaDB where
// RENAME TABLE under LOCK TABLES is refused.
class MysqlRebuild : public RebuildBackend {
 public:
  MysqlRebuild(const Dsn& dsn, const std::optional<std::string>& password);

  ddl::QualifiedName resolve_table(const std::string& table) override;
  const RebuildPlan& plan(const RebuildOptions& options) override;
  bool apply_in_place(const RebuildOptions& options) override;
  void create_shadow() override;
  void attach_shadow() override;
  bool complete_interrupted_swap(const std::string& table) override;
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
  // MySQL row images are always complete, so `fill_from` is always empty here.
  void replace_rows(const std::vector<replication::Row>& delete_keys,
                    const std::vector<replication::Row>& rows,
                    const std::vector<replication::Row>& fill_from) override;

  void drop_old_table() override;
  std::vector<std::string> cleanup(const std::string& table) override;

 private:
  class Snapshots;

  std::unique_ptr<Connection> open_session();
  // The copy's session: reads the source without locking it.
  std::unique_ptr<Connection> open_copy_session();
  // Runs `unit` again on new sessions when its connection is lost (options_.reconnect).
  template <typename Unit>
  auto reconnecting(const char* what, Unit unit);
  bool table_exists(const ddl::QualifiedName& name);
  // Whether `name` is a cut-over sentry (it carries the sentry's comment).
  bool is_sentry(const ddl::QualifiedName& name);
  std::optional<replication::Row> read_key(Connection& connection, const std::string& sql);
  std::optional<replication::Row> find_chunk_end(const std::optional<replication::Row>& after,
                                                 std::uint64_t rows);
  std::string range_predicate(const std::optional<replication::Row>& after,
                              const std::optional<replication::Row>& up_to) const;
  // INSERT IGNORE … SELECT of the source's rows matching `where` into the shadow.
  std::string copy_statement(const std::string& where) const;
  // Fails when the last copy statement converted a value (IGNORE turns that into a warning).
  void check_copy_warnings();
  // COUNT(*) and BIT_XOR of per-row CRC32s over the mapped columns of `table` in a key range.
  // Columns whose type the ALTER changed are cast to the new type on both sides.
  std::string checksum_query(const ddl::QualifiedName& table, const std::string& where) const;
  std::optional<replication::Row> snapshot_chunk_end(Connection& snapshot,
                                                     const std::optional<replication::Row>& after,
                                                     std::uint64_t rows);
  // The rows of a key range (`where`) whose key is in the shadow.
  std::string kept_rows(const std::string& where) const;
  // Counts the rows of a key range missing from the shadow (discarded as duplicates of a new
  // unique key) into `sum`, and says why when one of them has no duplicate in the shadow.
  void count_discarded(Connection& snapshot, const std::optional<replication::Row>& after,
                       const std::optional<replication::Row>& up_to, ChunkSum& sum) const;
  bool try_cut_over(const RebuildOptions& options, const DrainTo& drain_to,
                    std::chrono::milliseconds& write_block);

  Dsn dsn_;
  std::optional<std::string> password_;
  std::unique_ptr<Connection> main_;
  std::unique_ptr<Connection> apply_;
  RebuildOptions options_;
  RebuildPlan plan_;
  TableSchema shadow_schema_;
  std::string quoted_source_;
  std::string quoted_shadow_;
  std::string quoted_old_;
  ddl::QualifiedName swap_;  // the RENAME's target and sentry: <table>_sluice_old
  std::string quoted_swap_;
  std::string force_key_;       // FORCE INDEX (`key`)
  std::string select_columns_;  // the mapped columns, quoted, comma separated
  // Column lists of the UNIQUE keys the ALTER adds: verification then accepts rows missing
  // from the shadow as duplicates, and counts them.
  std::vector<std::vector<std::string>> added_unique_keys_;
};

}  // namespace sluice::mysql

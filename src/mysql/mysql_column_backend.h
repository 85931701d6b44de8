#pragma once

#include <map>
#include <memory>

#include "src/column_backend.h"
#include "src/mysql/mysql_connection.h"
#include "src/table_schema.h"

namespace sluice::mysql {

// Column-level migration work on MySQL/MariaDB. Batches walk the key `describe_table` chooses
// (the PRIMARY KEY, else a NOT NULL unique key). Archived values travel as hex of their bytes,
// so any character set or binary value survives the JSON archive.
class MysqlColumnBackend : public ColumnBackend {
 public:
  MysqlColumnBackend(const Dsn& dsn, const std::optional<std::string>& password);

  const ColumnDdl& ddl() const override;
  ddl::QualifiedName resolve_table(const std::string& table) override;
  std::optional<ColumnFacts> column(const ddl::QualifiedName& table,
                                    const std::string& column) override;
  std::vector<std::string> key_columns(const ddl::QualifiedName& table) override;
  void run(const ddl::QualifiedName& table, const Step& step,
           std::chrono::milliseconds lock_timeout, int attempts) override;
  void check_expression(const ddl::QualifiedName& table, const std::string& expression) override;
  std::optional<KeyText> batch_end(const ddl::QualifiedName& table,
                                   const std::optional<KeyText>& after,
                                   std::uint64_t rows) override;
  BackfillBatch backfill(const ddl::QualifiedName& table, const BackfillPlan& plan,
                         const std::string& rows, const KeyRange& range) override;
  std::uint64_t count_where(const ddl::QualifiedName& table, const std::string& condition,
                            const KeyRange& range, std::size_t samples,
                            std::vector<KeyText>& sample_keys) override;
  std::vector<std::string> sessions_where(const std::string& condition,
                                          const std::vector<std::string>& own_sessions) override;
  std::vector<ArchivedRow> read_column(const ddl::QualifiedName& table, const std::string& column,
                                       const KeyRange& range) override;
  std::uint64_t write_column(const ddl::QualifiedName& table, const std::string& column,
                             const std::vector<std::string>& key,
                             const std::vector<ArchivedRow>& rows) override;
  bool table_exists(const ddl::QualifiedName& table) override;
  TableDefinition table_definition(const ddl::QualifiedName& table) override;
  std::vector<ArchivedRow> read_rows(const ddl::QualifiedName& table,
                                     const KeyRange& range) override;
  void create_table(const ddl::QualifiedName& table, const std::string& definition) override;
  void drop_table(const ddl::QualifiedName& table) override;
  void insert_rows(const ddl::QualifiedName& table, const std::vector<ArchivedColumn>& columns,
                   const std::vector<ArchivedRow>& rows) override;

 private:
  bool object_done(const ddl::QualifiedName& table, const Step& step) override;
  // The table's columns and key, read once: the key does not change during a migration.
  const TableSchema& schema(const ddl::QualifiedName& table);
  std::string range_predicate(const TableSchema& schema, const KeyRange& range);
  std::string key_select(const TableSchema& schema);
  std::string key_order(const TableSchema& schema);
  // Whether the table has the index named as `step`'s object. For create_index, throws
  // Error(ExitCode::preflight_failed) when that index has other columns (or prefixes) or another
  // uniqueness than the step's.
  bool index_exists(const ddl::QualifiedName& table, const Step& step);
  // Archived TIMESTAMP values are UTC, so that no daylight-saving fold changes them on the way
  // back and an archive restores the same on a server in another time zone.
  void use_utc_for_archives();

  Dsn dsn_;
  std::unique_ptr<Connection> connection_;
  std::map<std::string, TableSchema> schemas_;
};

}  // namespace sluice::mysql

#pragma once

#include <memory>

#include "src/column_backend.h"
#include "src/postgres/pg_connection.h"

namespace sluice::postgres {

// Column-level migration work on PostgreSQL. Batches walk the primary key; key values travel
// as their text form and come back as untyped parameters, which the server reads as the key
// columns' types.
class PgColumnBackend : public ColumnBackend {
 public:
  PgColumnBackend(const Dsn& dsn, const std::optional<std::string>& password);

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
  // Columns with format_type's type, a non-default collation and NOT NULL, and the primary key.
  // Not carried: defaults, identity and sequences, generated expressions (the column keeps its
  // values as a plain column), CHECK, UNIQUE and foreign-key constraints, other indexes,
  // triggers, storage parameters, grants, comments.
  TableDefinition table_definition(const ddl::QualifiedName& table) override;
  std::vector<ArchivedRow> read_rows(const ddl::QualifiedName& table,
                                     const KeyRange& range) override;
  void create_table(const ddl::QualifiedName& table, const std::string& definition) override;
  void drop_table(const ddl::QualifiedName& table) override;
  void insert_rows(const ddl::QualifiedName& table, const std::vector<ArchivedColumn>& columns,
                   const std::vector<ArchivedRow>& rows) override;

 private:
  bool object_done(const ddl::QualifiedName& table, const Step& step) override;
  // A WHERE condition and its parameters.
  struct Predicate {
    std::string sql;
    Params params;
  };
  Predicate range_predicate(const ddl::QualifiedName& table, const KeyRange& range);
  std::string key_list(const ddl::QualifiedName& table, const std::string& suffix);
  struct IndexFacts {
    bool on_table = false;   // an index of the step's table
    bool same_keys = false;  // on the step's columns, in order, with the step's uniqueness
    bool valid = false;      // not left INVALID by a failed CREATE INDEX CONCURRENTLY
    std::string definition;  // pg_get_indexdef, for messages
  };
  struct CheckFacts {
    bool validated = false;
  };
  // The index named as `step`'s object in the table's schema, or nullopt. For create_index,
  // throws Error(ExitCode::preflight_failed) when the name belongs to another relation (a
  // table, view, sequence) or to an index of another table or other keys.
  std::optional<IndexFacts> index_named(const ddl::QualifiedName& table, const Step& step);
  // The table's constraint named as `step`'s object, or nullopt. For add_check, throws
  // Error(ExitCode::preflight_failed) when it is not CHECK (column IS NOT NULL).
  std::optional<CheckFacts> check_named(const ddl::QualifiedName& table, const Step& step);
  // Drops the step's index when it is an INVALID one on the step's table.
  void drop_invalid_index(const ddl::QualifiedName& table, const Step& step);
  std::vector<ResultRow> select(const std::string& sql, const Params& params);
  // Archived values are text; these settings make that text mean the same on any server
  // whatever its defaults (dates in ISO order, exact floats, hex bytea).
  void use_portable_text();

  std::unique_ptr<Connection> connection_;
};

}  // namespace sluice::postgres

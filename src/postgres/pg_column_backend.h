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
  bool done(const ddl::QualifiedName& table, const Step& step) override;
  void run(const ddl::QualifiedName& table, const Step& step,
           std::chrono::milliseconds lock_timeout, int attempts) override;
  void check_expression(const ddl::QualifiedName& table, const std::string& expression) override;
  std::optional<KeyText> batch_end(const ddl::QualifiedName& table,
                                   const std::optional<KeyText>& after,
                                   std::uint64_t rows) override;
  std::uint64_t backfill(const ddl::QualifiedName& table, const BackfillPlan& plan,
                         const KeyRange& range) override;
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

 private:
  // A WHERE condition and its parameters.
  struct Predicate {
    std::string sql;
    Params params;
  };
  Predicate range_predicate(const ddl::QualifiedName& table, const KeyRange& range);
  std::string key_list(const ddl::QualifiedName& table, const std::string& suffix);
  // The index `index` of the table's schema: nullopt when absent, else whether it is valid.
  std::optional<bool> index_valid(const ddl::QualifiedName& table, const std::string& index);
  std::optional<bool> check_validated(const ddl::QualifiedName& table,
                                      const std::string& constraint);
  std::vector<ResultRow> select(const std::string& sql, const Params& params);

  std::unique_ptr<Connection> connection_;
};

}  // namespace sluice::postgres

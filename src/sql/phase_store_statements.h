#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/sql_phase_store.h"

namespace sluice {

// The statements that read and write the rows of sluice's phase metadata, in SQL both server
// families accept, built from the few things that differ between them: the clock, the lease's
// arithmetic and how a timestamp reads as UTC text. A family derives from it and writes the
// rest: the layout, the locks, the refusals and its session functions
// (src/mysql/mysql_phase_store_sql.cpp, src/postgres/pg_phase_store_sql.cpp). Pure, like every
// PhaseStoreSql.
class PhaseStoreStatements : public PhaseStoreSql {
 public:
  std::string schema_version() const override;
  std::vector<std::string> write_version(int version) const override;
  std::string select(const std::optional<std::string>& filter) const override;
  std::string named(const std::string& name_literal) const override;
  std::string in_progress(const std::string& table_literal) const override;
  std::string insert(const NewMigration& migration) const override;
  std::string set_phase(std::int64_t id, Phase phase,
                        const std::optional<std::string>& error_literal) const override;
  std::string take_over(std::int64_t id, const std::string& owner_literal) const override;
  std::string renew_lease(std::int64_t id, const std::string& owner_literal) const override;
  std::string release_lease(std::int64_t id, const std::string& owner_literal) const override;
  std::string save_checkpoint(std::int64_t id,
                              const std::string& checkpoint_literal) const override;

 protected:
  // `migrations` and `metadata`: the names of the two tables, quoted for the family.
  PhaseStoreStatements(std::string migrations, std::string metadata);

  // The server's clock at the moment of the statement, in the zone lease_until is kept in.
  virtual std::string now() const = 0;
  // now() plus PhaseStore::kLeaseSeconds.
  virtual std::string lease_expiry() const = 0;
  // The timestamp `column` as UTC text in the format 'YYYY-MM-DD HH:MM:SS.ffffff'.
  virtual std::string utc_text(const std::string& column) const = 0;

  // The column stamped when a migration enters `phase`.
  static std::string timestamp_column(Phase phase);

  const std::string migrations_;
  const std::string metadata_;
};

}  // namespace sluice

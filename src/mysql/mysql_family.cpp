#include "src/mysql/mysql_family.h"

#include "src/error.h"
#include "src/mysql/mysql_change_stream.h"
#include "src/mysql/mysql_column_backend.h"
#include "src/mysql/mysql_column_ddl.h"
#include "src/mysql/mysql_connection.h"
#include "src/mysql/mysql_load_probe.h"
#include "src/mysql/mysql_phase_store_sql.h"
#include "src/mysql/mysql_preflight.h"
#include "src/mysql/mysql_rebuild.h"
#include "src/mysql/mysql_schema.h"

namespace sluice::mysql {
namespace {

class MysqlFamily : public ServerFamily {
 public:
  ddl::Dialect dialect() const override { return ddl::Dialect::mysql; }

  std::unique_ptr<Session> connect(const Dsn& dsn,
                                   const std::optional<std::string>& password) const override {
    return std::make_unique<Connection>(dsn, password);
  }

  ddl::QualifiedName table_name(const Dsn& dsn, const std::string& table) const override {
    return resolve_table_name(dsn, table);
  }

  PreflightReport preflight(const Dsn& dsn, const std::optional<std::string>& password,
                            const std::string& table) const override {
    Connection connection(dsn, password);
    return run_preflight(connection, resolve_table_name(dsn, table));
  }

  std::unique_ptr<RebuildBackend> rebuild_backend(
      const Dsn& dsn, const std::optional<std::string>& password) const override {
    return std::make_unique<MysqlRebuild>(dsn, password);
  }

  std::unique_ptr<ColumnBackend> column_backend(
      const Dsn& dsn, const std::optional<std::string>& password) const override {
    return std::make_unique<MysqlColumnBackend>(dsn, password);
  }

  const ColumnDdl& column_ddl() const override { return mysql_column_ddl(); }

  std::unique_ptr<PhaseStore> phase_store(const Dsn& dsn,
                                          const std::optional<std::string>& password,
                                          const std::optional<std::string>& schema,
                                          const std::string& fallback_schema) const override {
    std::string where = schema.value_or(dsn.database.empty() ? fallback_schema : dsn.database);
    if (where.empty()) {
      throw Error(ExitCode::usage,
                  "no database to keep sluice's phase metadata in; name one in the DSN "
                  "(mysql://host/db) or with --metadata-schema");
    }
    return std::make_unique<SqlPhaseStore>(std::make_unique<Connection>(dsn, password),
                                           mysql_phase_store_sql(where), where);
  }

  std::unique_ptr<LoadProbe> load_probe(const Dsn& dsn, const std::optional<std::string>& password,
                                        const std::vector<std::string>& replicas) const override {
    return std::make_unique<MysqlLoadProbe>(dsn, password, replicas);
  }

  std::unique_ptr<replication::ChangeStream> change_stream(
      const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
      std::uint32_t server_id) const override {
    return open_mysql_stream(dsn, password, table, server_id);
  }
};

}  // namespace

const ServerFamily& mysql_family() {
  static const MysqlFamily family;
  return family;
}

}  // namespace sluice::mysql

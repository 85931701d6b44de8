#include "src/postgres/pg_family.h"

#include "ddl/ddl_error.h"
#include "src/error.h"
#include "src/postgres/pg_change_stream.h"
#include "src/postgres/pg_column_backend.h"
#include "src/postgres/pg_column_ddl.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_load_probe.h"
#include "src/postgres/pg_phase_store_sql.h"
#include "src/postgres/pg_preflight.h"
#include "src/postgres/pg_rebuild.h"

namespace sluice::postgres {
namespace {

class PgFamily : public ServerFamily {
 public:
  ddl::Dialect dialect() const override { return ddl::Dialect::postgres; }

  std::unique_ptr<Session> connect(const Dsn& dsn,
                                   const std::optional<std::string>& password) const override {
    return std::make_unique<Connection>(dsn, password);
  }

  ddl::QualifiedName table_name(const Dsn& /*dsn*/, const std::string& table) const override {
    try {
      return ddl::parse_qualified_name(ddl::Dialect::postgres, table, "public");
    } catch (const ddl::DdlError& error) {
      throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
    }
  }

  PreflightReport preflight(const Dsn& dsn, const std::optional<std::string>& password,
                            const std::string& table) const override {
    const ddl::QualifiedName name = table_name(dsn, table);
    Connection connection(dsn, password);
    return run_preflight(connection, name);
  }

  std::unique_ptr<RebuildBackend> rebuild_backend(
      const Dsn& dsn, const std::optional<std::string>& password) const override {
    return std::make_unique<PgRebuild>(dsn, password);
  }

  std::unique_ptr<ColumnBackend> column_backend(
      const Dsn& dsn, const std::optional<std::string>& password) const override {
    return std::make_unique<PgColumnBackend>(dsn, password);
  }

  const ColumnDdl& column_ddl() const override { return pg_column_ddl(); }

  std::unique_ptr<PhaseStore> phase_store(const Dsn& dsn,
                                          const std::optional<std::string>& password,
                                          const std::optional<std::string>& schema,
                                          const std::string& /*fallback_schema*/) const override {
    const std::string where = schema.value_or("sluice");
    return std::make_unique<SqlPhaseStore>(std::make_unique<Connection>(dsn, password),
                                           pg_phase_store_sql(where), where);
  }

  std::unique_ptr<LoadProbe> load_probe(const Dsn& dsn, const std::optional<std::string>& password,
                                        const std::vector<std::string>& replicas) const override {
    return std::make_unique<PgLoadProbe>(dsn, password, replicas);
  }

  std::unique_ptr<replication::ChangeStream> change_stream(
      const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
      std::uint32_t /*server_id*/) const override {
    return open_postgres_stream(dsn, password, table_name(dsn, table));
  }
};

}  // namespace

const ServerFamily& pg_family() {
  static const PgFamily family;
  return family;
}

}  // namespace sluice::postgres

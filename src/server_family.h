#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ddl/identifier.h"
#include "replication/change_stream.h"
#include "src/column_backend.h"
#include "src/dsn.h"
#include "src/load_probe.h"
#include "src/phase_plan.h"
#include "src/phase_store.h"
#include "src/preflight.h"
#include "src/rebuild_backend.h"
#include "src/session.h"

namespace sluice {

// Everything one server family (MySQL/MariaDB, PostgreSQL) supplies to the engine: its sessions
// and the objects that hold its SQL. The engine (src/*.cpp) only ever sees this interface and the
// ones it returns; the families live in src/mysql/ and src/postgres/, each its own library, and
// server_family() (src/server_families.cpp, library sluice_servers) is the only place that picks
// one. docs/architecture.md shows the layers.
class ServerFamily {
 public:
  virtual ~ServerFamily() = default;

  virtual ddl::Dialect dialect() const = 0;

  // A plain client session. Throws Error(ExitCode::connection) naming the fix.
  virtual std::unique_ptr<Session> connect(const Dsn& dsn,
                                           const std::optional<std::string>& password) const = 0;

  // The table `table` (as the user typed it: name or schema.name) names: a bare name is looked
  // up in the DSN's database on MySQL and in `public` on PostgreSQL. Throws
  // Error(ExitCode::usage) for a malformed name. Reads nothing.
  virtual ddl::QualifiedName table_name(const Dsn& dsn, const std::string& table) const = 0;

  // Every precondition of an online rebuild of `table`; creates nothing. Throws
  // Error(ExitCode::not_found) when the table does not exist.
  virtual PreflightReport preflight(const Dsn& dsn, const std::optional<std::string>& password,
                                    const std::string& table) const = 0;

  virtual std::unique_ptr<RebuildBackend> rebuild_backend(
      const Dsn& dsn, const std::optional<std::string>& password) const = 0;

  virtual std::unique_ptr<ColumnBackend> column_backend(
      const Dsn& dsn, const std::optional<std::string>& password) const = 0;

  // How column-level migrations are written as SQL steps (pure: no session).
  virtual const ColumnDdl& column_ddl() const = 0;

  // The phase metadata. `schema` overrides where it lives (MySQL default: the DSN's database,
  // else `fallback_schema`; PostgreSQL default: "sluice").
  virtual std::unique_ptr<PhaseStore> phase_store(const Dsn& dsn,
                                                  const std::optional<std::string>& password,
                                                  const std::optional<std::string>& schema,
                                                  const std::string& fallback_schema) const = 0;

  // A probe of the server's load and replicas' lag. `replicas` are DSNs (MySQL: replicas to
  // connect to, sharing the password; PostgreSQL: application_name values of standbys in
  // pg_stat_replication, all standbys when empty).
  virtual std::unique_ptr<LoadProbe> load_probe(const Dsn& dsn,
                                                const std::optional<std::string>& password,
                                                const std::vector<std::string>& replicas) const = 0;

  // A change stream of one table starting at the current end of the server's change log, so it
  // delivers every change committed from now on (`sluice stream`). MySQL: a binlog dump as
  // replica `server_id` (0: derive a unique one); PostgreSQL: a publication and logical slot of
  // its own, dropped when the stream is destroyed. Throws Error: ExitCode::usage for a malformed
  // name, ExitCode::connection when the server cannot be reached, ExitCode::not_found for an
  // unknown table, ExitCode::preflight_failed when the server does not log row changes,
  // ExitCode::stream when it refuses the replication connection.
  virtual std::unique_ptr<replication::ChangeStream> change_stream(
      const Dsn& dsn, const std::optional<std::string>& password, const std::string& table,
      std::uint32_t server_id) const = 0;
};

// The family that speaks to `kind`'s servers.
const ServerFamily& server_family(ServerKind kind);
const ServerFamily& server_family(ddl::Dialect dialect);

}  // namespace sluice

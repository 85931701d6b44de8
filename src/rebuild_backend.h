#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ddl/alter_analysis.h"
#include "replication/change_stream.h"
#include "src/applier.h"
#include "src/copier.h"
#include "src/dsn.h"
#include "src/table_schema.h"

namespace sluice {

// What the user asked `sluice alter` to do.
struct RebuildOptions {
  std::string table;           // as typed: name or schema.name
  std::string alter;           // the ALTER TABLE specification
  bool force_rebuild = false;  // copy even when the server could apply the change in place
  std::chrono::milliseconds chunk_time{500};
  std::chrono::milliseconds cutover_lock_timeout{2000};
  int cutover_attempts = 5;
};

// Everything decided before anything is created: printed by a dry run, followed by --execute.
struct RebuildPlan {
  ddl::Dialect dialect = ddl::Dialect::mysql;  // how names are quoted when the plan is printed
  TableSchema source;
  ddl::QualifiedName shadow;  // _<table>_new
  ddl::QualifiedName old;     // _<table>_old: the sentry during cut-over, the old table after
  ddl::AlterAnalysis analysis;
  std::string alter;
  std::vector<std::size_t> mapped_columns;  // source columns copied, by index, in table order
  // The server's statistics, not an exact COUNT(*): counting a busy table holds a read view
  // for minutes, which stalls purge and slows the application.
  std::uint64_t estimated_rows = 0;
  bool try_instant = false;             // ask the server to apply the change in place first
  std::vector<std::string> shadow_ddl;  // the statements that create the shadow table
};

struct VerifyResult {
  std::uint64_t chunks = 0;
  std::uint64_t rows = 0;
  std::vector<std::string> mismatches;  // one line per key range that differs
};

struct CutOverResult {
  int attempts = 0;
  std::chrono::milliseconds write_block{0};  // from taking the write lock to the swap's end
};

// Moves the change log to (at least) a position, applying everything read on the way.
using DrainTo = std::function<void(const replication::Position&)>;

// One server family's SQL for an online table rebuild. The Migrator drives it; it never sees
// SQL. Copying and applying come through CopySource and ShadowWriter.
class RebuildBackend : public CopySource, public ShadowWriter {
 public:
  // Runs the preflight and analyses the change; creates nothing. Throws Error when the table or
  // the change cannot be migrated online (the message names the fix).
  virtual const RebuildPlan& plan(const RebuildOptions& options) = 0;

  // Asks the server to apply the change without copying, with a bounded lock wait. Returns
  // false (and changes nothing) when the server cannot.
  virtual bool apply_in_place(const RebuildOptions& options) = 0;

  // Creates the shadow table and checks the planned column mapping against it.
  virtual void create_shadow() = 0;
  // Drops the shadow table if it exists (a failed or aborted run).
  virtual void drop_shadow() = 0;

  // The current end of the change log; a stream started here misses nothing written later.
  virtual replication::Position log_position() = 0;
  virtual std::unique_ptr<replication::ChangeStream> open_stream(
      const replication::Position& start) = 0;

  // Blocks writes briefly, drains the stream to that point through `drain_to`, opens one
  // consistent snapshot of both tables, releases writes and compares them chunk by chunk.
  virtual VerifyResult verify(const DrainTo& drain_to) = 0;

  // Swaps the shadow in for the table atomically, the old table kept as plan().old. Retries a
  // lock it cannot get within the timeout with back-off; throws Error when every attempt fails,
  // leaving the original table untouched.
  virtual CutOverResult cut_over(const RebuildOptions& options, const DrainTo& drain_to) = 0;

  // Drops what a crashed run on `table` left behind (shadow table, cut-over sentry), never the
  // table itself or an old table kept after a successful swap. Returns the dropped names.
  virtual std::vector<std::string> cleanup(const std::string& table) = 0;
};

// Connects to the server named by `dsn` and returns its rebuild backend (MySQL/MariaDB or
// PostgreSQL).
std::unique_ptr<RebuildBackend> connect_rebuild_backend(const Dsn& dsn,
                                                        const std::optional<std::string>& password);

}  // namespace sluice

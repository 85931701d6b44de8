#pragma once

#include <functional>
#include <future>
#include <memory>
#include <optional>

#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_table_plan.h"
#include "src/session.h"
#include "src/verifier.h"

namespace sluice::postgres {

// The two snapshots of a PostgreSQL verification: the first session exports its snapshot and
// the second imports it, so both see the table and its shadow at the same moment; each side
// sums chunks as count and bit_xor of hash_record_extended, the table's values converted to
// the new types first so that equal rows hash equally.
//
// The shadow's deferred indexes may be built meanwhile (build_indexes): verification reads by
// the key, which the shadow has had all along, nothing writes to the shadow until the cut-over
// drains the stream, and CREATE INDEX's SHARE lock lets the snapshot read.
class PgSnapshots : public VerifySnapshots {
 public:
  // Opens both snapshots; open it while writes are blocked and the shadow has caught up.
  // `plan` outlives this object.
  PgSnapshots(const PgTablePlan& plan, std::unique_ptr<Connection> source,
              std::unique_ptr<Connection> shadow);

  // Runs `build(*session)` on its own thread until finish().
  void build_indexes(std::unique_ptr<Connection> session, std::function<void(Connection&)> build);

  // The key of every `rows`-th row in the server's key order: chunks hold rows, never spans
  // of key values, so a sparse key costs no more chunks than a dense one.
  std::optional<replication::Row> chunk_end(const std::optional<replication::Row>& after,
                                            std::uint64_t rows) override;
  ChunkSum source_sum(const std::optional<replication::Row>& after,
                      const std::optional<replication::Row>& up_to) override;
  ChunkSum shadow_sum(const std::optional<replication::Row>& after,
                      const std::optional<replication::Row>& up_to) override;
  // Ends both snapshots and waits for the indexes; rethrows an index build's failure.
  void finish() override;

 private:
  ChunkSum sum(Connection& session, const std::string& table, const std::string& hashed,
               const std::optional<replication::Row>& after,
               const std::optional<replication::Row>& up_to);

  const PgTablePlan& plan_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> shadow_;
  Transaction source_view_;
  Transaction shadow_view_;
  std::unique_ptr<Connection> index_session_;
  std::future<void> indexes_;
};

}  // namespace sluice::postgres

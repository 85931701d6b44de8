#include "src/mysql/mysql_verify.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "src/lock_retry.h"
#include "src/mysql/mysql_copy.h"
#include "src/mysql/mysql_sql.h"
#include "src/mysql/mysql_verify_sql.h"

namespace sluice::mysql {
namespace {

using replication::Row;

constexpr const char* kSnapshot = "START TRANSACTION WITH CONSISTENT SNAPSHOT";

ChunkSum sum(Session& session, const std::string& sql) {
  const ResultRow row = session.query(sql).front();
  ChunkSum sum;
  sum.rows = std::stoull(row[0].value_or("0"));
  sum.checksum = row[1].value_or("");
  return sum;
}

// Says which key range holds rows of the original missing from the shadow without a duplicate.
std::string unexplained_range(const std::optional<Row>& after, const std::optional<Row>& up_to,
                              const std::string& rows) {
  return "keys after " +
         (after ? replication::format_value(after->front()) : std::string("start")) + " up to " +
         (up_to ? replication::format_value(up_to->front()) : std::string("end")) + ": " + rows +
         " rows of the original are missing from the shadow without a duplicate there";
}

// The two snapshots of a MySQL verification: one per table, both opened while writes were
// blocked and the stream drained (the shadow is written only by this process, between steps), so
// they see the same moment and the two sides are summed in parallel.
class Snapshots : public VerifySnapshots {
 public:
  Snapshots(const MysqlTablePlan& plan, std::unique_ptr<Connection> source,
            std::unique_ptr<Connection> shadow)
      : plan_(plan),
        source_(std::move(source)),
        shadow_(std::move(shadow)),
        source_view_(*source_, kSnapshot),
        shadow_view_(*shadow_, kSnapshot) {}

  std::optional<Row> chunk_end(const std::optional<Row>& after, std::uint64_t rows) override {
    return offset_chunk_end(*source_, plan_.source, after, rows);
  }

  ChunkSum source_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    const std::string where = range_predicate(plan_.source, after, up_to);
    if (plan_.added_unique_keys.empty()) {
      return sum(*source_, checksum_query(plan_, plan_.source.name, where));
    }
    ChunkSum kept = sum(*source_, checksum_query(plan_, plan_.source.name,
                                                 where + " AND " + kept_rows(plan_, where)));
    kept.discarded =
        std::stoull(source_->query_value(missing_rows_sql(plan_, where)).value_or("0"));
    if (kept.discarded > 0) {
      const std::string unexplained =
          source_->query_value(unexplained_rows_sql(plan_, where)).value_or("0");
      if (unexplained != "0") {
        kept.unexplained = unexplained_range(after, up_to, unexplained);
      }
    }
    return kept;
  }

  ChunkSum shadow_sum(const std::optional<Row>& after, const std::optional<Row>& up_to) override {
    return sum(*shadow_,
               checksum_query(plan_, plan_.shadow, range_predicate(plan_.source, after, up_to)));
  }

  void finish() override {
    source_view_.commit();
    shadow_view_.commit();
  }

 private:
  const MysqlTablePlan& plan_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> shadow_;
  Transaction source_view_;
  Transaction shadow_view_;
};

}  // namespace

std::unique_ptr<VerifySnapshots> MysqlVerify::open_snapshots(const RebuildOptions& options,
                                                             const DrainTo& drain_to) {
  std::unique_ptr<Connection> lock_session = sessions_.open();
  std::unique_ptr<Connection> source = sessions_.open();
  std::unique_ptr<Connection> shadow = sessions_.open();
  for (Connection* snapshot : {source.get(), shadow.get()}) {
    snapshot->execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  }
  return retry_lock_waits("verification's write block", cut_over_lock_policy(options), [&] {
    TableLock lock(*lock_session, {{plan_.source.name, LockMode::block_writes}},
                   options.cutover_lock_timeout);
    const auto blocked = std::chrono::steady_clock::now();
    drain_to(sessions_.log_position());
    auto snapshots = std::make_unique<Snapshots>(plan_, std::move(source), std::move(shadow));
    lock.release();
    spdlog::info("verification blocked writes for {} ms to take a consistent snapshot",
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - blocked)
                     .count());
    return std::unique_ptr<VerifySnapshots>(std::move(snapshots));
  });
}

}  // namespace sluice::mysql

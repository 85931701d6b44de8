#include "src/mysql/mysql_verify.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>

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
//
// Chunk ends are read on a third session, outside the snapshots, one chunk ahead: the next end
// is read while the current chunk's two sides are summed. Any key is a sound boundary, since both
// sides sum the same range in their snapshots and the engine sums what lies past the last end
// (verify_chunks); and reading the next end brings the source's next chunk into the buffer pool
// for its sum. Reading each end before its chunk, as before, took half of verification's time.
class Snapshots : public VerifySnapshots {
 public:
  Snapshots(const MysqlTablePlan& plan, std::unique_ptr<Connection> source,
            std::unique_ptr<Connection> shadow, std::unique_ptr<Connection> ends)
      : plan_(plan),
        source_(std::move(source)),
        shadow_(std::move(shadow)),
        ends_(std::move(ends)),
        source_view_(*source_, kSnapshot),
        shadow_view_(*shadow_, kSnapshot) {}

  std::optional<Row> chunk_end(const std::optional<Row>& after, std::uint64_t rows) override {
    std::optional<Row> end;
    if (ahead_.valid() && ahead_after_ == after && ahead_rows_ == rows) {
      end = ahead_.get();
    } else {
      settle_ahead();
      end = offset_chunk_end(*ends_, plan_.source, after, rows);
    }
    if (end) {
      ahead_after_ = end;
      ahead_rows_ = rows;
      ahead_ = std::async(std::launch::async, [this, from = end, rows] {
        return offset_chunk_end(*ends_, plan_.source, from, rows);
      });
    }
    return end;
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
    settle_ahead();
    source_view_.commit();
    shadow_view_.commit();
  }

 private:
  // Waits for an end read ahead that will not be asked for; its failure does not matter, the
  // session's state is what the next read on it meets.
  void settle_ahead() {
    if (!ahead_.valid()) {
      return;
    }
    try {
      ahead_.get();
    } catch (const std::exception& error) {
      spdlog::debug("a chunk end read ahead was not needed ({})", error.what());
    }
  }

  const MysqlTablePlan& plan_;
  std::unique_ptr<Connection> source_;
  std::unique_ptr<Connection> shadow_;
  std::unique_ptr<Connection> ends_;
  Transaction source_view_;
  Transaction shadow_view_;
  // Declared after ends_, which it reads: destroyed first, it waits for the read to end.
  std::future<std::optional<Row>> ahead_;
  std::optional<Row> ahead_after_;
  std::uint64_t ahead_rows_ = 0;
};

}  // namespace

std::unique_ptr<VerifySnapshots> MysqlVerify::open_snapshots(const RebuildOptions& options,
                                                             const DrainTo& drain_to) {
  std::unique_ptr<Connection> lock_session = sessions_.open();
  std::unique_ptr<Connection> source = sessions_.open();
  std::unique_ptr<Connection> shadow = sessions_.open();
  std::unique_ptr<Connection> ends = sessions_.open();
  for (Connection* snapshot : {source.get(), shadow.get()}) {
    snapshot->execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  }
  return retry_lock_waits("verification's write block", cut_over_lock_policy(options), [&] {
    TableLock lock(*lock_session, {{plan_.source.name, LockMode::block_writes}},
                   options.cutover_lock_timeout);
    const auto blocked = std::chrono::steady_clock::now();
    drain_to(sessions_.log_position());
    auto snapshots =
        std::make_unique<Snapshots>(plan_, std::move(source), std::move(shadow), std::move(ends));
    lock.release();
    spdlog::info("verification blocked writes for {} ms to take a consistent snapshot",
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - blocked)
                     .count());
    return std::unique_ptr<VerifySnapshots>(std::move(snapshots));
  });
}

}  // namespace sluice::mysql

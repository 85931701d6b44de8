#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "src/dsn.h"
#include "src/postgres/pg_connection.h"
#include "src/session.h"

namespace sluice::postgres {

// A run's lock on the source table (docs/alter.md, step 4): SHARE UPDATE EXCLUSIVE, held on a
// session of its own from the start of the run's change stream to its cut-over (PgRebuild), as
// pg_repack and REPACK (CONCURRENTLY) hold it. It keeps autovacuum off the table (autovacuum
// gives up a lock it cannot take at once, and the copy's snapshot keeps it from removing
// anything meanwhile), and no read or write of rows conflicts with it. sluice never queues for
// it (NOWAIT), and a session that waits for it waits one poll at most: a watcher looks every
// kPoll for one (a VACUUM FULL, an ALTER TABLE, an ANALYZE, an anti-wraparound vacuum, sluice's
// own verification), releases the lock at once when one waits, and takes it again
// once nobody does. A request made with NOWAIT or a lock_timeout under kPoll fails while the
// lock is held, as it would behind any other holder. A rewrite let through during the copy
// stops the run (its page ranges no longer hold; PgSnapshotCopy::copy_chunk); an ALTER TABLE
// stops it at its schema check.
//
// Whatever the lock's session meets (it is lost, the server refuses), the run goes on without
// the lock: the lock protects no row, only spares the server work.
class PgRewriteLock {
 public:
  // How often the watcher looks for waiters, and how long after letting one through it tries
  // the lock again.
  static constexpr std::chrono::milliseconds kPoll{100};
  static constexpr std::chrono::milliseconds kRetake{1000};

  // Starts the watcher, which opens the session and takes the lock. `table` is quoted, `oid`
  // its oid.
  PgRewriteLock(Dsn dsn, std::optional<std::string> password, std::string table, std::string oid);
  // Stops the watcher, which releases the lock and ends its session.
  ~PgRewriteLock();
  PgRewriteLock(const PgRewriteLock&) = delete;
  PgRewriteLock& operator=(const PgRewriteLock&) = delete;

 private:
  // Takes the lock unless another session holds or waits for a lock it conflicts with.
  void try_take();
  // Releases the lock when a session waits for it; true when it did.
  bool yield_to_waiter();
  // The watcher's loop, on its own thread: it alone uses session_ and lock_.
  void watch();
  // Waits up to `period`; true once the destructor asks the watcher to stop.
  bool stop_within(std::chrono::milliseconds period);

  Dsn dsn_;
  std::optional<std::string> password_;
  std::unique_ptr<Connection> session_;
  std::optional<TableLock> lock_;
  bool announced_ = false;  // the first take was logged
  std::string table_;
  std::string oid_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace sluice::postgres

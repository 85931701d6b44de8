#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "src/phase_store.h"

namespace sluice {

// Keeps one migration's lease in the phase metadata alive for as long as it lives: renews it
// every PhaseStore::kRenewSeconds from a thread of its own (with a store, and so a connection,
// of its own) and releases it on destruction. When a renewal finds the lease taken over by
// another runner, lost() turns true and stays true; the runner must then stop. A renewal that
// lost its connection opens a new store through `connect` at the next renewal.
class Lease {
 public:
  using StoreFactory = std::function<std::unique_ptr<PhaseStore>()>;

  Lease(StoreFactory connect, std::int64_t id, std::string owner);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  bool lost() const { return lost_.load(); }
  // The server session that renews the lease (see PhaseStore::session_id); a new one after a
  // lost connection.
  std::string session_id() const;

 private:
  void renew_until_stopped();

  StoreFactory connect_;
  std::unique_ptr<PhaseStore> store_;  // null after a lost connection until the next renewal
  std::int64_t id_;
  std::string owner_;
  std::string session_id_;  // guarded by mutex_
  std::atomic<bool> lost_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice

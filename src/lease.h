#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "src/phase_store.h"

namespace sluice {

// Keeps one migration's lease in the phase metadata alive for as long as it lives: renews it
// every PhaseStore::kRenewSeconds from a thread of its own (with a store, and so a connection,
// of its own) and releases it on destruction. When a renewal finds the lease taken over by
// another runner, lost() turns true and stays true; the runner must then stop.
class Lease {
 public:
  Lease(std::unique_ptr<PhaseStore> store, std::int64_t id, std::string owner);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  bool lost() const { return lost_.load(); }
  // The server session that renews the lease (see PhaseStore::session_id).
  const std::string& session_id() const { return session_id_; }

 private:
  void renew_until_stopped();

  std::unique_ptr<PhaseStore> store_;
  std::int64_t id_;
  std::string owner_;
  std::string session_id_;
  std::atomic<bool> lost_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice

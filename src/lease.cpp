#include "src/lease.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "src/error.h"

namespace sluice {

Lease::Lease(StoreFactory connect, std::int64_t id, std::string owner)
    : connect_(std::move(connect)), store_(connect_()), id_(id), owner_(std::move(owner)) {
  session_id_ = store_->session_id();
  thread_ = std::thread([this] { renew_until_stopped(); });
}

Lease::~Lease() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  try {
    if (!store_) {
      store_ = connect_();
    }
    store_->release_lease(id_, owner_);
  } catch (const std::exception& error) {
    spdlog::warn("could not release the migration's lease ({}); it expires within {} s",
                 error.what(), PhaseStore::kLeaseSeconds);
  }
}

std::string Lease::session_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return session_id_;
}

void Lease::renew_until_stopped() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::seconds(PhaseStore::kRenewSeconds),
                         [this] { return stopping_; })) {
    try {
      if (!store_) {
        store_ = connect_();
        session_id_ = store_->session_id();
      }
      if (!store_->renew_lease(id_, owner_)) {
        lost_ = true;
        spdlog::error("another runner took over this migration's lease; stopping");
        return;
      }
    } catch (const Error& error) {
      // A missed renewal is not yet a lost lease: it lasts kLeaseSeconds, several renewals.
      spdlog::warn("could not renew the migration's lease: {}", error.what());
      if (error.code() == ExitCode::connection) {
        store_.reset();
      }
    } catch (const std::exception& error) {
      spdlog::warn("could not renew the migration's lease: {}", error.what());
    }
  }
}

}  // namespace sluice

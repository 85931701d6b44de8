#include "src/protocol_probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>

namespace sluice {
namespace {

using std::chrono::milliseconds;

// A MySQL server sends its greeting as soon as it accepts; this is ample on any network that
// completes a TCP handshake.
constexpr milliseconds kGreetingWait{1000};
constexpr milliseconds kAnswerWait{1000};
constexpr milliseconds kConnectWait{3000};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A connected TCP socket to host:port, or -1.
int connect_to(const std::string& host, unsigned port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      continue;
    }
    ::connect(fd, address->ai_addr, address->ai_addrlen);
    pollfd writable{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof(error);
    if (::poll(&writable, 1, static_cast<int>(kConnectWait.count())) == 1 &&
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
      return fd;
    }
    ::close(fd);
  }
  return -1;
}

bool readable(int fd, milliseconds wait) {
  pollfd in{fd, POLLIN, 0};
  return ::poll(&in, 1, static_cast<int>(wait.count())) == 1;
}

bool probe(const std::string& host, unsigned port) {
  const Socket socket(connect_to(host, port));
  if (socket.fd() < 0 || readable(socket.fd(), kGreetingWait)) {
    return false;  // unreachable (the real connect says why), or it spoke first: not PostgreSQL
  }
  // PostgreSQL's SSLRequest: length 8, code 80877103. A PostgreSQL server answers 'S' or 'N'.
  constexpr std::array<unsigned char, 8> kSslRequest = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
  if (::send(socket.fd(), kSslRequest.data(), kSslRequest.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(kSslRequest.size()) ||
      !readable(socket.fd(), kAnswerWait)) {
    return false;
  }
  char answer = 0;
  return ::recv(socket.fd(), &answer, 1, 0) == 1 && (answer == 'S' || answer == 'N');
}

}  // namespace

bool answers_like_postgres(const std::string& host, unsigned port) {
  // Once per server and process: reconnects during a run need not ask again.
  static std::mutex mutex;
  static std::set<std::string> asked;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!asked.insert(host + ":" + std::to_string(port)).second) {
      return false;
    }
  }
  return probe(host, port);
}

}  // namespace sluice

#include "src/control_socket.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "src/error.h"

namespace sluice {
namespace {

constexpr int kPollMs = 100;
// A client that connects and sends nothing must not hold the socket's one thread for long.
constexpr auto kReadLimit = std::chrono::seconds(2);
constexpr std::size_t kMaxLine = 4096;

void send_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

ControlSocket::ControlSocket(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
  sockaddr_un address{};
  if (path_.empty() || path_.size() >= sizeof(address.sun_path)) {
    throw Error(ExitCode::usage, "--serve-socket-file needs a path shorter than " +
                                     std::to_string(sizeof(address.sun_path)) + " bytes");
  }
  struct stat info {};
  if (::lstat(path_.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      throw Error(ExitCode::usage, "--serve-socket-file " + path_ +
                                       " exists and is not a socket; choose another path");
    }
    ::unlink(path_.c_str());
  }
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) {
    throw Error(ExitCode::failure,
                std::string("cannot create a Unix socket: ") + std::strerror(errno));
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  // The umask makes the file 0600 from its creation: no moment where others could connect.
  const mode_t previous = ::umask(0177);
  const int bound = ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  const int bind_errno = errno;
  ::umask(previous);
  if (bound != 0 || ::listen(listener_, 16) != 0) {
    ::close(listener_);
    throw Error(ExitCode::usage, "cannot listen on --serve-socket-file " + path_ + ": " +
                                     std::strerror(bound != 0 ? bind_errno : errno) +
                                     "; check that its directory exists and is writable");
  }
  ::chmod(path_.c_str(), 0600);
  thread_ = std::thread([this] { run(); });
  spdlog::info("serving control commands on {} (send 'help' for the list)", path_);
}

ControlSocket::~ControlSocket() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  ::close(listener_);
  ::unlink(path_.c_str());
}

void ControlSocket::run() {
  while (!stopping_) {
    pollfd descriptor{listener_, POLLIN, 0};
    if (::poll(&descriptor, 1, kPollMs) <= 0) {
      continue;
    }
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    serve(client);
    ::close(client);
  }
}

void ControlSocket::serve(int client) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + kReadLimit;
  while (line.find('\n') == std::string::npos && line.size() < kMaxLine) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd descriptor{client, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) {
      break;
    }
    char buffer[512];
    const ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      break;  // the client closed its side: the line is complete without a newline
    }
    line.append(buffer, static_cast<std::size_t>(n));
  }
  line = line.substr(0, line.find('\n'));
  std::string answer;
  try {
    answer = handler_(line);
  } catch (const std::exception& error) {
    answer = std::string("error: ") + error.what();
  }
  if (answer.empty() || answer.back() != '\n') {
    answer += '\n';
  }
  send_all(client, answer);
}

}  // namespace sluice

#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace sluice {

// A Unix socket that answers one-line commands while a migration runs, on a thread of its own
// so an answer never waits for a chunk. Each connection sends one line and gets the handler's
// answer, then is closed (`echo status | nc -U PATH`). The socket file is created with mode
// 0600 (only its owner may connect) and removed on destruction.
class ControlSocket {
 public:
  // Answers a command line; runs on the socket's thread.
  using Handler = std::function<std::string(const std::string& line)>;

  // Listens on `path`. A stale socket file left by a killed run is replaced; any other existing
  // file is refused with Error(ExitCode::usage), as is a path that cannot be bound.
  ControlSocket(std::string path, Handler handler);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

 private:
  void run();
  void serve(int client);

  std::string path_;
  Handler handler_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sluice

#include "src/password.h"

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "src/error.h"

namespace sluice {
namespace {

std::string read_password_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    throw Error(ExitCode::usage, "cannot read --password-file " + path +
                                     ": check that it exists and is readable by this user");
  }
  std::string line;
  std::getline(file, line);
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

// Restores the terminal's echo flag however the prompt ends.
class EchoOff {
 public:
  EchoOff() {
    if (tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~EchoOff() {
    if (active_) {
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

std::string prompt_password() {
  if (!isatty(STDIN_FILENO)) {
    throw Error(ExitCode::usage,
                "--ask-password needs a terminal; in scripts use --password-file or the "
                "environment (MYSQL_PWD / PGPASSWORD)");
  }
  std::cerr << "Password: " << std::flush;
  std::string line;
  {
    EchoOff echo_off;
    std::getline(std::cin, line);
  }
  std::cerr << '\n';
  return line;
}

}  // namespace

std::optional<std::string> resolve_password(ServerKind kind, const PasswordOptions& options) {
  if (!options.password_file.empty()) {
    return read_password_file(options.password_file);
  }
  const char* variable = kind == ServerKind::mysql ? "MYSQL_PWD" : "PGPASSWORD";
  if (const char* value = std::getenv(variable)) {
    return std::string(value);
  }
  if (options.ask) {
    return prompt_password();
  }
  return std::nullopt;
}

}  // namespace sluice

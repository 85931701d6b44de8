#pragma once

#include <stdexcept>

namespace sluice::ddl {

// Thrown for input the DDL layer cannot accept (a malformed name, an unsupported ALTER).
// The message is one sentence a user can act on; it never contains secrets.
class DdlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sluice::ddl

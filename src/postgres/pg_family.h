#pragma once

#include "src/server_family.h"

namespace sluice::postgres {

// The ServerFamily of PostgreSQL servers.
const ServerFamily& pg_family();

}  // namespace sluice::postgres

#pragma once

#include "src/server_family.h"

namespace sluice::mysql {

// The ServerFamily of MySQL and MariaDB servers.
const ServerFamily& mysql_family();

}  // namespace sluice::mysql

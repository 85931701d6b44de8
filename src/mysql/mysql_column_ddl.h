#pragma once

#include "src/phase_plan.h"

namespace sluice::mysql {

// MySQL/MariaDB column steps: every ALTER carries LOCK=NONE, so the server applies it in place
// (INSTANT or INPLACE) while writes go on, or refuses instead of blocking the application.
// NOT NULL comes through sluice's online rebuild.
const ColumnDdl& mysql_column_ddl();

}  // namespace sluice::mysql

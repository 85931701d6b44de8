#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// Pure SQL text for applying the change stream's row images to the shadow (no connection).
// `rows` below is a SELECT yielding rows of the mapped columns in the shadow's types, as
// batch_rows() or single_row() build it, whose parameters the caller binds.

// The rows of a batch, bound as one text array per mapped column ($1 … $n): each value cast
// to the table's column type, then converted as PgColumn::value says, as the copy converts it.
// Two parameters instead of thousands keep parsing and planning cheap.
std::string batch_rows(const std::vector<PgColumn>& columns);

// One row, bound as one parameter per mapped column: the values marked in `from_shadow` were
// read from the shadow and are already in its types, so they pass unconverted.
std::string single_row(const std::vector<PgColumn>& columns, const std::vector<bool>& from_shadow);

// INSERT INTO shadow … OVERRIDING SYSTEM VALUE rows, with the one value of each added column in
// plan.filled (so a row the application inserts while the migration runs gets it too).
std::string insert_rows_into(const PgTablePlan& plan, const std::string& rows);

// Deletes the shadow's rows holding, in the columns `unique_columns` (quoted) of one of its
// unique indexes, the same values as one of `rows`.
std::string delete_unique_matches(const PgTablePlan& plan, const std::string& rows,
                                  const std::vector<std::string>& unique_columns);

// Reads the mapped columns of the rows of the shadow (when `shadow`) or of the table whose keys
// are among a list of keys bound as one text array per key column ($1 … $k, the table's text
// of each value), each row led by the 1-based position of its key in the list. The server
// matches the keys by its own equality, each value cast to the column's type.
std::string select_by_keys(const PgTablePlan& plan, bool shadow);

// Deletes the shadow's rows of `keys` keys: bound to $1, $2, ... for a composite key; for a
// single key column (keys ignored), bound as one text array in $1 and compared in the column's
// own type so that its index is used.
std::string delete_keys(const PgTablePlan& plan, std::size_t keys);

}  // namespace sluice::postgres

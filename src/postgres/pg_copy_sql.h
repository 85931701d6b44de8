#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// Pure SQL text for walking the table in key order, copying ranges into the shadow and
// checksumming them for verification (no connection). `where` is a key condition, as
// key_range() builds it, whose parameters the caller binds.

// INSERT … SELECT of the table's rows matching `where` into the shadow, each column converted
// as PgColumn::value says. OVERRIDING SYSTEM VALUE keeps identity values as they are. With
// `skip_conflicts`, rows whose key or unique values the shadow holds already are skipped.
std::string copy_rows(const PgTablePlan& plan, const std::string& where, bool skip_conflicts);

// DELETE FROM table WHERE where.
std::string delete_where(const std::string& table, const std::string& where);

// The smallest and largest value of the key column `column` as text (NULLs for no rows).
std::string key_bounds(const std::string& table, const std::string& column);

// The key of the row `offset` rows into the table in key order, counting after the key bound
// to $1, $2, ... when `after`.
std::string nth_key(const std::string& table, const std::vector<std::string>& key, bool after,
                    std::uint64_t offset);

// The table's last key, among those after the key bound to $1, $2, ... when `after`.
std::string last_key(const std::string& table, const std::vector<std::string>& key, bool after);

// The mapped columns as verification hashes them on each side: the shadow's columns, or the
// same values computed from the table's row; as text where the type has no hash function.
std::string shadow_hashed(const std::vector<PgColumn>& columns);
std::string source_hashed(const std::vector<PgColumn>& columns);

// The row count and the XOR of a 64-bit hash of each row of `hashed` (shadow_hashed() or
// source_hashed()) over the rows of `table` matching `where`. XOR does not depend on row order.
std::string chunk_checksum(const std::string& table, const std::string& hashed,
                           const std::string& where);

// Makes the session's transaction see the snapshot another session exported.
std::string set_transaction_snapshot(const std::string& snapshot);

}  // namespace sluice::postgres

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/postgres/pg_table_plan.h"

namespace sluice::postgres {

// Pure SQL text for copying the table into the shadow by ranges of pages, walking it in key
// order for verification and checksumming key ranges (no connection). `where` is a condition,
// as key_range() or page_range() builds it, whose parameters the caller binds.

// INSERT … SELECT of the table's rows matching `where` into the shadow, each column converted
// as PgColumn::value says. OVERRIDING SYSTEM VALUE keeps identity values as they are. With
// `skip_conflicts`, rows whose key or unique values the shadow holds already are skipped.
std::string copy_rows(const PgTablePlan& plan, const std::string& where, bool skip_conflicts);

// copy_rows() of only the rows whose key the shadow lacks, matched by the server's equality on
// the converted key: what a redo of a chunk whose commit may have happened needs while the
// shadow has no unique index yet (the copy builds them afterwards), so ON CONFLICT could not
// see the rows the lost attempt wrote.
std::string copy_missing_rows(const PgTablePlan& plan, const std::string& where);

// DELETE FROM table WHERE where.
std::string delete_where(const std::string& table, const std::string& where);

// The rows in pages [$1, $2) of the table: a TID range scan (PostgreSQL 14 and later), which
// reads those pages and no others, whatever the key. Bind tid_of() of the first page and of
// the page after the last.
std::string page_range();

// The TID of the first row slot of `page`: "(page,0)".
std::string tid_of(std::uint64_t page);

// Under a snapshot: the table (bound to $1 as a quoted name) in pages, its file node (which a
// rewrite changes) and the statistics' rows per page (0 when it was never analysed).
std::string table_pages();

// The file node of the table bound to $1, as the catalog has it now.
std::string table_file_node();

// Begins a transaction that reads one snapshot throughout, as an imported snapshot needs.
std::string begin_snapshot_transaction();

// The snapshot holder's session (PgSnapshotCopy): it idles in its transaction for the whole
// copy, so a server-wide idle_in_transaction_session_timeout must not end it.
std::string keep_idle_transaction();

// The run's lock on the source (PgRewriteLock): SHARE UPDATE EXCLUSIVE, which conflicts with
// every rewrite (VACUUM FULL, CLUSTER, TRUNCATE, ALTER TABLE), VACUUM and ANALYZE but with no
// read or write of rows; NOWAIT, so that sluice never queues for it.
std::string take_rewrite_lock(const std::string& table);

// A row while a session waits for a lock on the table whose oid is bound to $1 and the session
// running the query is among those it waits for (pg_blocking_pids): its pid, the mode it asks
// for and its application_name.
std::string lock_waiter();

// Exports the snapshot of the transaction open on the session, for the chunks to import.
std::string export_snapshot();

// A row while the slot named $1 is still held by a server process (the ended replication
// session's walsender exits a moment after its client).
std::string slot_in_use();

// TRUNCATE table.
std::string truncate_table(const std::string& table);

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

#pragma once

#include <functional>
#include <memory>
#include <string>

#include "integration/sql_session.h"
#include "integration/support.h"
#include "src/dsn.h"

namespace sluice::test {

// What the expand-contract scenarios need to know about one test server.
struct Scenario {
  std::string dsn;          // sluice's --dsn
  std::string text_type;    // a NOT NULL-able text type: varchar(200) or text
  std::string migrations;   // the phase metadata table, quoted and qualified
  std::string old_clients;  // an old-clients condition matching `connect_old_client`
  std::function<std::unique_ptr<SqlSession>()> connect_old_client;
};

// The scenarios on the shared test server, or on the server behind `dsn` (a private one).
Scenario mysql_scenario(const std::string& dsn = server_dsn(ServerKind::mysql));
Scenario postgres_scenario(const std::string& dsn = server_dsn(ServerKind::postgres));

// A rename-column migration driven through plan, expand, backfill, verify, switch and
// contract (with an archive, then restored) while an application simulator writes through its
// releases; contract is refused inside the grace period and while an old client is connected.
void rename_through_every_phase(const Scenario& scenario);
// Abort after expand and backfill puts the table back exactly as it was.
void abort_before_switch(const Scenario& scenario);
// A second runner is refused while the first holds the migration's lease; a backfill killed
// mid-way continues from its checkpoint once the lease has expired.
void runners_and_resumed_backfill(const Scenario& scenario);
// add-not-null, drop-column, add-index and rebuild, each from expand to contract, with
// --archive where contract drops something and refused where it drops nothing.
void other_operations(const Scenario& scenario);
// A rebuild contracted with --archive (refused, dropping nothing, while the archive path
// exists) and the old table restored under another name and under its own: every row and
// column type comes back.
void rebuild_archive_and_restore(const Scenario& scenario);
// `sluice run DIR` takes a rename and a type change from nothing to contract, never past a
// grace period, with a summary and exit code 0; it switches only once the file's gate lets it
// (dual-write-clients: no old client connected; switch-after: the soak is over) and never
// switches a file that names no dual-writing release.
void nightly_run(const Scenario& scenario);
// Rows that differ after the backfill (the old release changed the old column, a broken dual
// write, a late insert) survive a plain backfill and are rewritten by backfill --repair, which
// verify's advice names; a repair with nothing to do writes nothing.
void repair_differing_rows(const Scenario& scenario);

// Index names are checked against the real object (expand_contract_safety.cpp): on PostgreSQL a
// second file naming an index that another table's index holds is refused, not recorded; an
// index of that name on other columns, or one already there, is refused; an INVALID index left
// by a failed CREATE INDEX CONCURRENTLY is dropped and built again.
void index_names_are_checked(const Scenario& scenario);
// A re-run's "already done" checks the column the migration added: one replaced by a column
// of another type is refused (expand, and backfill, which would write into it); on PostgreSQL
// an index name that a table holds is refused before anything is recorded.
void replaced_objects_are_refused(const Scenario& scenario);
// The backfill never makes the application's transactions fail: a dual-writing release whose
// multi-row transactions take rows in random order sees no error during it; a row kept locked
// through every pass is left for a re-run, which fills it.
void backfill_yields_to_the_application(const Scenario& scenario);

}  // namespace sluice::test

#include "src/postgres/pg_cut_over.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "replication/postgres/slot_manager.h"
#include "src/lock_retry.h"
#include "src/postgres/pg_dependents.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/postgres/pg_shadow_sql.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Pairs of indexes (the original's, the shadow's) with the same definition but for the name.
constexpr const char* kIndexPairs =
    "SELECT o.relname, s.relname FROM (SELECT ic.relname, regexp_replace(pg_get_indexdef("
    "i.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '') AS def FROM pg_index i JOIN "
    "pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::regclass) o JOIN (SELECT "
    "ic.relname, regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ "
    "ON \\S+ ', '') AS def FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE "
    "i.indrelid = $2::regclass) s ON s.def = o.def ORDER BY 1";

constexpr const char* kReplicaIdentity =
    "SELECT c.relreplident, (SELECT quote_ident(ic.relname) FROM pg_index i JOIN "
    "pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND "
    "i.indisreplident) FROM pg_class c WHERE c.oid = $1::oid";

// The publications of the table ($1) other than the run's own ($2, $3: a forward run's, a
// revert's), with their column lists and row filters.
constexpr const char* kPublications =
    "SELECT quote_ident(p.pubname), (SELECT string_agg(quote_ident(a.attname), ', ' ORDER "
    "BY a.attnum) FROM pg_attribute a WHERE a.attrelid = r.prrelid AND a.attnum = "
    "ANY(r.prattrs)), pg_get_expr(r.prqual, r.prrelid) FROM pg_publication_rel r JOIN "
    "pg_publication p ON p.oid = r.prpubid WHERE r.prrelid = $1::oid AND p.pubname NOT IN ($2, $3) "
    "ORDER BY 1";

constexpr const char* kDefinition =
    "SELECT concat_ws(E'\\n', (SELECT string_agg(format('%s %s %s %s', quote_ident(a.attname), "
    "format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)), ', ' "
    "ORDER BY a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND "
    "d.adnum = a.attnum WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped), "
    "(SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY i.indexrelid) FROM pg_index "
    "i WHERE i.indrelid = $1::oid), (SELECT string_agg(c.conname || ' ' || "
    "pg_get_constraintdef(c.oid), ', ' ORDER BY c.oid) FROM pg_constraint c WHERE c.conrelid = "
    "$1::oid))";

long long ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

// Statements that give the shadow's indexes (and the constraints they carry) the names the
// original's equal indexes have, and the original's a derived name: an application that names
// a constraint (ON CONFLICT ON CONSTRAINT, error handling by name) keeps working.
std::vector<std::string> read_index_renames(Connection& lock, const PgTablePlan& plan) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const ResultRow& row : lock.query(kIndexPairs, {plan.quoted_table, plan.quoted_shadow})) {
    pairs.emplace_back(row[0].value_or(""), row[1].value_or(""));
  }
  return index_renames(plan.table.schema, pairs, plan.old_suffix, plan.named_by_alter);
}

// The replica identity and the application's own publications (CDC, logical replicas) belong
// to the table by oid, so they must be moved to the new table, or they would keep following
// the old one. Read before the renames; the statements run after them, when the new table has
// the table's name and its indexes the original index names.
std::vector<std::string> read_identity_and_publications(Connection& lock, const PgTablePlan& plan) {
  std::vector<std::string> statements;
  const ResultRow identity = lock.query(kReplicaIdentity, {plan.oid}).front();
  if (std::optional<std::string> statement =
          replica_identity(plan.quoted_table, identity[0].value_or("d"), identity[1])) {
    statements.push_back(*statement);
  }
  for (const ResultRow& publication :
       lock.query(kPublications, {plan.oid, pg::sluice_object_name(slot_name(plan.oid)),
                                  pg::sluice_object_name(revert_slot_name(plan.oid))})) {
    for (std::string& statement :
         move_publication(publication[0].value_or(""), plan.quoted_old, plan.quoted_table,
                          publication[1], publication[2])) {
      statements.push_back(std::move(statement));
    }
  }
  return statements;
}

// The swap's statements, read on the locked session after the catch-up. Continues identity
// sequences on the way (setval is not transactional, but the new table's sequence is unused
// until the swap commits).
std::vector<std::string> swap_statements(Connection& lock, const PgTablePlan& plan,
                                         const std::vector<Dependent>& dependents) {
  std::vector<std::string> statements = read_index_renames(lock, plan);
  statements.push_back(rename_table(plan.quoted_table, plan.old.name));
  statements.push_back(rename_table(plan.quoted_shadow, plan.table.name));
  for (const SequenceMove& move : plan.sequences) {
    if (move.shadow) {
      lock.query(continue_sequence(move), {*move.shadow});
    }
    for (std::string& statement : carry_sequence(move, plan.quoted_table, plan.old_suffix)) {
      statements.push_back(std::move(statement));
    }
  }
  if (plan.force_row_security) {
    statements.push_back(force_row_security(plan.quoted_table));
  }
  for (const TriggerState& trigger : plan.triggers) {
    if (std::optional<std::string> statement = enable_trigger(plan.quoted_table, trigger)) {
      statements.push_back(*statement);
    }
  }
  for (std::string& statement : recreate_dependents(dependents)) {
    statements.push_back(std::move(statement));
  }
  for (std::string& statement : read_identity_and_publications(lock, plan)) {
    statements.push_back(std::move(statement));
  }
  return statements;
}

// One attempt of the swap; returns the re-created dependents. Throws ServerError on a lock
// conflict, after the transaction rolled back.
std::vector<Dependent> try_swap(const PgTablePlan& plan, const RebuildOptions& options,
                                const OpenSession& open_session, const CatchUp& catch_up,
                                CutOverResult& result, bool revert_point) {
  std::unique_ptr<Connection> session = open_session();
  bool locked = false;
  try {
    TableLock lock(*session, swap_locks(plan, options.cutover_lock_timeout));
    locked = true;
    const auto blocked = Clock::now();
    if (read_definition(*session, plan.oid) != plan.definition) {
      throw Error(ExitCode::stream,
                  "another session changed the definition of " + plan.quoted_table +
                      " during the run (DDL does not reach PostgreSQL's change stream, so the "
                      "new table would lack it); sluice will not cut over; the original table "
                      "is untouched; run sluice alter again");
    }
    catch_up();
    const auto drained = Clock::now();
    const std::vector<Dependent> dependents = read_dependents(*session, plan);
    const std::vector<std::string> statements = swap_statements(*session, plan, dependents);
    if (revert_point) {
      result.revert_from = replication::Position{};
      result.revert_from->lsn = pg::parse_lsn(
          session->query_value("SELECT pg_current_wal_insert_lsn()::text").value_or(""));
    }
    const auto swapping = Clock::now();
    for (const std::string& statement : statements) {
      session->execute(statement);
    }
    const auto swapped = Clock::now();
    lock.release();
    const auto committed = Clock::now();
    spdlog::debug(
        "cut-over: {} ms reading dependents, {} ms for {} swap statements, {} ms to commit",
        ms_between(drained, swapping), ms_between(swapping, swapped), statements.size(),
        ms_between(swapped, committed));
    result.write_block = std::chrono::duration_cast<milliseconds>(committed - blocked);
    return dependents;
  } catch (const ServerError& error) {
    if (!locked && error.kind() == ServerErrorKind::lock_timeout) {
      spdlog::warn("cut-over could not lock {} within {} ms", plan.quoted_table,
                   options.cutover_lock_timeout.count());
    } else if (locked && is_lock_conflict(error)) {
      // Another table the swap touches (a referencing table, a parent) was busy too, or the
      // application deadlocked with the swap: the same as a busy table, retried.
      spdlog::warn("cut-over rolled back: {}", error.what());
    }
    throw;
  }
}

}  // namespace

std::string read_definition(Connection& session, const std::string& oid) {
  return session.query_value(kDefinition, {oid}).value_or("");
}

bool apply_in_place(Connection& main, const PgTablePlan& plan, const RebuildOptions& options,
                    const std::vector<std::string>& clauses) {
  const std::string alter = alter_table(plan.quoted_table, clauses);
  LockRetryPolicy policy = cut_over_lock_policy(options);
  policy.gave_up = "the in-place ALTER could not get its lock in " +
                   std::to_string(options.cutover_attempts) +
                   " attempts (the table stayed busy); the table is untouched; run sluice alter "
                   "again at a quieter time";
  retry_lock_waits("the in-place ALTER", policy, [&] {
    try {
      Transaction transaction(main);
      main.execute(set_local_lock_timeout(options.cutover_lock_timeout));
      main.execute(alter);
      transaction.commit();
    } catch (const ServerError& error) {
      if (error.kind() != ServerErrorKind::lock_timeout) {
        throw Error(ExitCode::usage, std::string("the server refused the ALTER: ") + error.what());
      }
      throw;
    }
  });
  spdlog::info("the server applied the change in its catalog; no copy needed");
  return true;
}

CutOverResult cut_over(const PgTablePlan& plan, const RebuildOptions& options,
                       const OpenSession& open_session, const CatchUp& catch_up, bool revert_point,
                       std::vector<Dependent>& recreated) {
  CutOverResult result;
  LockRetryPolicy policy = cut_over_lock_policy(options);
  policy.gave_up = "cut-over failed " + std::to_string(options.cutover_attempts) +
                   " times (the table stayed busy); the original table is untouched; run sluice "
                   "alter again at a quieter time";
  recreated = retry_lock_waits("cut-over", policy, [&] {
    ++result.attempts;
    return try_swap(plan, options, open_session, catch_up, result, revert_point);
  });
  spdlog::info(
      "cut-over done: {} now has the new schema, the old table is {}; writes were blocked for {} "
      "ms",
      plan.quoted_table, plan.quoted_old, result.write_block.count());
  return result;
}

}  // namespace sluice::postgres

#include "src/postgres/pg_revert.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>

#include "replication/stream_error.h"
#include "src/postgres/pg_cut_over_sql.h"
#include "src/postgres/pg_rebuild_sql.h"
#include "src/postgres/pg_shadow_sql.h"

namespace sluice::postgres {
namespace {

namespace pg = replication::postgres;

// The stored columns of a table ($1, a name) with their types, in table order.
constexpr const char* kColumnTypes =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE "
    "a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
    "ORDER BY a.attnum";

// The unique indexes of a table ($1): name and column names, comma separated in key order.
constexpr const char* kUniqueIndexes =
    "SELECT ic.relname, (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM "
    "unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON "
    "a.attrelid = i.indrelid AND a.attnum = k.attnum) FROM pg_index i JOIN pg_class ic ON "
    "ic.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS "
    "NULL ORDER BY 1";

constexpr const char* kSlot =
    "SELECT active::text, wal_status, confirmed_flush_lsn::text FROM pg_replication_slots "
    "WHERE slot_name = $1";

constexpr const char* kTriggerStates =
    "SELECT quote_ident(tgname), tgenabled FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT "
    "tgisinternal ORDER BY tgname";

std::string oid_of(Connection& main, const ddl::QualifiedName& table) {
  return main.query_value("SELECT $1::regclass::oid::text", {ident(table)}).value_or("");
}

std::vector<std::pair<std::string, std::string>> column_types(Connection& main,
                                                              const ddl::QualifiedName& table) {
  std::vector<std::pair<std::string, std::string>> columns;
  for (const ResultRow& row : main.query(kColumnTypes, {ident(table)})) {
    columns.emplace_back(row[0].value_or(""), row[1].value_or(""));
  }
  return columns;
}

// The names of `table`'s columns that `other` lacks.
std::vector<std::string> missing_from(
    const std::vector<std::pair<std::string, std::string>>& table,
    const std::vector<std::pair<std::string, std::string>>& other) {
  std::vector<std::string> missing;
  for (const auto& [name, type] : table) {
    if (std::none_of(other.begin(), other.end(), [&](const auto& c) { return c.first == name; })) {
      missing.push_back(name);
    }
  }
  return missing;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ", ") + ident(name);
  }
  return text;
}

std::map<std::string, std::string> unique_indexes(Connection& main,
                                                  const ddl::QualifiedName& table) {
  std::map<std::string, std::string> indexes;
  for (const ResultRow& row : main.query(kUniqueIndexes, {ident(table)})) {
    indexes.emplace(row[0].value_or(""), row[1].value_or(""));
  }
  return indexes;
}

}  // namespace

bool drop_unused_slot(Connection& main, const pg::ConnectionParams& params,
                      const std::string& object) {
  const std::vector<ResultRow> slot = main.query(kSlot, {object});
  if (!slot.empty() && slot[0][0] == "true") {
    throw Error(ExitCode::preflight_failed,
                "replication slot " + object +
                    " is in use: a sluice run on this table is still running; stop it first");
  }
  try {
    if (!slot.empty()) {
      pg::drop_slot(params, object);
    }
    // Looked up first: DROP PUBLICATION IF EXISTS of a missing one prints a NOTICE to stderr.
    if (main.query_value("SELECT 1 FROM pg_publication WHERE pubname = $1", {object})) {
      pg::drop_publication(params, object);
    }
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::failure, "could not drop " + object + ": " + error.what());
  }
  return !slot.empty();
}

ReverseSlot::ReverseSlot(Connection& main, const pg::ConnectionParams& params,
                         const PgTablePlan& plan) {
  const std::string name = revert_slot_name(oid_of(main, plan.shadow));
  if (drop_unused_slot(main, params, pg::sluice_object_name(name))) {
    spdlog::info("dropped the reverse slot a killed run left ({})", pg::sluice_object_name(name));
  }
  if (main.query_value("SELECT relreplident::text FROM pg_class WHERE oid = $1::oid", {plan.oid}) !=
      "d") {
    main.execute(*replica_identity(plan.quoted_shadow, "f", std::nullopt));
  }
  spdlog::info(
      "creating the reverse replication slot {} for sluice revert (it waits for open write "
      "transactions, and keeps WAL from now until the revert window ends)",
      pg::sluice_object_name(name));
  try {
    publication_.emplace(params, name, std::vector<ddl::QualifiedName>{plan.shadow});
    slot_.emplace(params, name, /*export_snapshot=*/false);
  } catch (const replication::StreamError& error) {
    throw Error(ExitCode::stream, std::string("could not create the reverse replication slot "
                                              "that sluice revert needs: ") +
                                      error.what());
  }
}

void ReverseSlot::keep() {
  slot_->release();
  publication_->release();
}

bool drop_reverse_slot(Connection& main, const pg::ConnectionParams& params,
                       const ddl::QualifiedName& table) {
  if (!relation_exists(main, table)) {
    return false;
  }
  return drop_unused_slot(main, params,
                          pg::sluice_object_name(revert_slot_name(oid_of(main, table))));
}

void drop_previous_reverse_slot(Connection& main, const pg::ConnectionParams& params,
                                const PgTablePlan& plan) {
  try {
    if (drop_reverse_slot(main, params, plan.old)) {
      spdlog::info(
          "dropped the reverse slot of the previous run of {}: it can no longer be reverted",
          plan.quoted_table);
    }
  } catch (const std::exception& error) {
    spdlog::warn(
        "could not drop the reverse slot of the previous run of {} ({}), which can no longer be "
        "reverted and retains WAL; drop it with sluice slots --drop",
        plan.quoted_table, error.what());
  }
}

bool reverse_slot_retained(Connection& main, const std::string& object) {
  const std::vector<ResultRow> slot = main.query(kSlot, {object});
  return !slot.empty() && slot[0][1] != "lost";
}

std::vector<std::string> revert_losses(Connection& main, const ddl::QualifiedName& table,
                                       const ddl::QualifiedName& old) {
  const auto current = column_types(main, table);
  const auto kept = column_types(main, old);
  std::vector<std::string> losses;
  if (const std::vector<std::string> added = missing_from(current, kept); !added.empty()) {
    losses.push_back("the values of " + name_list(added) +
                     ", which the old table lacks, would be lost");
  }
  if (const std::vector<std::string> dropped = missing_from(kept, current); !dropped.empty()) {
    losses.push_back("rows written since the cut-over would get the default of " +
                     name_list(dropped) + ", which the migration dropped");
  }
  const std::map<std::string, std::string> current_keys = unique_indexes(main, table);
  for (const auto& [name, columns] : unique_indexes(main, old)) {
    if (std::none_of(current_keys.begin(), current_keys.end(),
                     [&](const auto& key) { return key.second == columns; })) {
      losses.push_back(
          "a row written since the cut-over that repeats a value of the old "
          "table's unique index " +
          ident(name) + " cannot be put back (the revert stops on it)");
    }
  }
  return losses;
}

ddl::AlterAnalysis revert_analysis(Connection& main, const ddl::QualifiedName& table,
                                   const ddl::QualifiedName& shadow) {
  const auto current = column_types(main, table);
  const auto kept = column_types(main, shadow);
  ddl::AlterAnalysis analysis;
  analysis.dropped_columns = missing_from(current, kept);
  analysis.added_columns = missing_from(kept, current);
  for (const auto& [name, type] : current) {
    const auto found =
        std::find_if(kept.begin(), kept.end(), [&](const auto& c) { return c.first == name; });
    if (found != kept.end() && found->second != type) {
      analysis.modified_columns.push_back(name);
    }
  }
  return analysis;
}

void adopt_old_table(Connection& main, const ddl::QualifiedName& table,
                     const ddl::QualifiedName& old, const ddl::QualifiedName& shadow) {
  const bool has_old = relation_exists(main, old);
  const bool has_shadow = relation_exists(main, shadow);
  if (has_shadow && !has_old) {
    return;  // adopted by the run being resumed
  }
  if (!has_old) {
    throw Error(ExitCode::preflight_failed,
                "the old table " + ident(old) +
                    " is gone (sluice contract or --drop-old-table drops it), so there is nothing "
                    "to revert to");
  }
  if (has_shadow) {
    throw Error(ExitCode::preflight_failed, ident(shadow) +
                                                " exists, left by a crashed run; run sluice "
                                                "cleanup --table " +
                                                ident(table) + ", then revert again");
  }
  Transaction transaction(main);
  main.execute(rename_table(ident(old), shadow.name));
  main.execute(disable_user_triggers(ident(shadow)));
  transaction.commit();
  spdlog::info("the old table {} is the revert's shadow table {} until the swap", ident(old),
               ident(shadow));
}

bool restore_old_table(Connection& main, const ddl::QualifiedName& table,
                       const ddl::QualifiedName& old, const ddl::QualifiedName& shadow) {
  if (!relation_exists(main, shadow) || relation_exists(main, old)) {
    return false;
  }
  // Its triggers as the table's same-named ones are enabled: those adopt_old_table() disabled.
  std::vector<TriggerState> states;
  if (relation_exists(main, table)) {
    std::map<std::string, std::string> live;
    for (const ResultRow& trigger : main.query(kTriggerStates, {ident(table)})) {
      live.emplace(trigger[0].value_or(""), trigger[1].value_or("O"));
    }
    for (const ResultRow& trigger : main.query(kTriggerStates, {ident(shadow)})) {
      if (const auto found = live.find(trigger[0].value_or("")); found != live.end()) {
        states.push_back({found->first, found->second});
      }
    }
  }
  Transaction transaction(main);
  main.execute(rename_table(ident(shadow), old.name));
  for (const TriggerState& trigger : states) {
    if (const std::optional<std::string> statement = enable_trigger(ident(old), trigger)) {
      main.execute(*statement);
    }
  }
  transaction.commit();
  spdlog::info("the old table is {} again", ident(old));
  return true;
}

}  // namespace sluice::postgres

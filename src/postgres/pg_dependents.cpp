#include "src/postgres/pg_dependents.h"

#include <spdlog/spdlog.h>

namespace sluice::postgres {
namespace {

// Foreign keys on ($1 the table's oid) or referencing the table: the table the constraint is
// on, its name, definition, and whether it is on the table itself.
constexpr const char* kForeignKeys =
    "SELECT format('%I.%I', n.nspname, c.relname), quote_ident(k.conname), "
    "pg_get_constraintdef(k.oid), k.conrelid = $1::oid FROM pg_constraint k JOIN pg_class "
    "c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
    "k.contype = 'f' AND (k.confrelid = $1::oid OR k.conrelid = $1::oid) ORDER BY 1, 2";

constexpr const char* kViews =
    "SELECT DISTINCT format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid, true), "
    "array_to_string(c.reloptions, ', ') FROM pg_depend d JOIN pg_rewrite r ON r.oid = "
    "d.objid JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = "
    "'pg_class'::regclass AND d.refobjid = $1::oid AND c.oid <> $1::oid AND c.relkind = "
    "'v' ORDER BY 1";

}  // namespace

std::vector<Dependent> read_dependents(Connection& lock, const PgTablePlan& plan) {
  std::vector<Dependent> dependents;
  for (const ResultRow& row : lock.query(kForeignKeys, {plan.oid})) {
    const bool own = row[3].value_or("f") == "t";
    Dependent dependent;
    dependent.kind = Dependent::Kind::foreign_key;
    dependent.table = own ? plan.quoted_table : row[0].value_or("");
    dependent.old_table = own ? plan.quoted_old : dependent.table;
    dependent.name = row[1].value_or("");
    // A constraint that was NOT VALID stays so; a valid one is validated after the swap.
    dependent.definition = not_valid(row[2].value_or(""), dependent.validate);
    dependents.push_back(dependent);
  }
  for (const ResultRow& row : lock.query(kViews, {plan.oid})) {
    Dependent view;
    view.kind = Dependent::Kind::view;
    view.name = row[0].value_or("");
    view.definition = view_body(row[1].value_or(""));
    view.options = row[2].value_or("");
    dependents.push_back(view);
  }
  return dependents;
}

void validate_foreign_keys(Connection& session, const std::vector<Dependent>& dependents) {
  for (const Dependent& dependent : dependents) {
    if (dependent.kind != Dependent::Kind::foreign_key || !dependent.validate) {
      continue;
    }
    const std::string statement = validate_constraint(dependent);
    try {
      session.execute(statement);
      spdlog::info("re-created and validated foreign key {} on {}", dependent.name,
                   dependent.table);
    } catch (const ServerError& error) {
      spdlog::warn(
          "foreign key {} on {} is in place but NOT VALID ({}); run {} when the table is quieter",
          dependent.name, dependent.table, error.what(), statement);
    }
  }
}

}  // namespace sluice::postgres

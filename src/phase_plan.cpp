#include "src/phase_plan.h"

#include "ddl/ddl_error.h"
#include "ddl/sql_tokenizer.h"
#include "src/error.h"

namespace sluice {
namespace {

// A backfill is spliced into UPDATE and SELECT statements: it must be one expression.
void require_one_expression(ddl::Dialect dialect, const std::string& expression) {
  try {
    for (const ddl::Token& token : ddl::tokenize_sql(dialect, expression)) {
      if (token.kind == ddl::TokenKind::symbol && token.text == ";") {
        throw Error(ExitCode::usage, "the backfill '" + expression +
                                         "' holds a ';'; give one SQL expression, not statements");
      }
    }
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage,
                "the backfill '" + expression + "' is not valid SQL (" + error.what() + ")");
  }
}

void append(std::vector<Step>& to, const std::vector<Step>& steps) {
  to.insert(to.end(), steps.begin(), steps.end());
}

const ColumnFacts& require(const std::optional<ColumnFacts>& subject) {
  if (!subject) {
    throw Error(ExitCode::failure, "planning needs the facts of the migrated column");
  }
  return *subject;
}

// rename-column and change-type: a new column next to the old one, backfilled from it.
void plan_moved_column(const MigrationSpec& spec, const ddl::QualifiedName& table,
                       const ColumnFacts& old, const ColumnDdl& ddl, PhasePlan& plan) {
  const bool rename = spec.operation == MigrationOperation::rename_column;
  const std::string type = rename ? old.type : spec.type;
  const std::string expression = !spec.backfill.empty() ? spec.backfill
                                 : rename               ? ddl.quote(spec.column)
                                          : ddl.default_conversion(spec.column, spec.type);
  plan.expand = ddl.add_column(table, spec.new_column, type);
  plan.backfill = BackfillPlan{spec.new_column, expression};
  plan.mismatch = ddl.differs(ddl.quote(spec.new_column), "(" + expression + ")");
  if (!old.nullable) {
    // The new version stops writing the old column, so it must accept NULL from then on; the
    // new column takes over the constraint.
    append(plan.switch_steps, ddl.drop_not_null(table, spec.column, old));
  }
  if (rename && old.default_sql) {
    append(plan.switch_steps, ddl.set_default(table, spec.new_column, *old.default_sql));
  }
  if (!old.nullable) {
    append(plan.switch_steps,
           ddl.set_not_null(table, spec.new_column,
                            ColumnFacts{type, false, rename ? old.default_sql : std::nullopt}));
  }
  plan.contract = ddl.drop_column(table, spec.column);
  plan.abort = ddl.drop_column(table, spec.new_column);
  plan.dropped_column = spec.column;
  const std::string old_name = ddl.quote(spec.column);
  const std::string new_name = ddl.quote(spec.new_column);
  plan.after_expand = "deploy a version that writes both " + old_name + " and " + new_name +
                      " and still reads " + old_name +
                      "; then run backfill (rows it has written are left alone)";
  plan.after_switch = "deploy a version that reads and writes " + new_name +
                      " only; contract drops " + old_name +
                      " once the grace period is over and no client of the previous version "
                      "is connected";
}

}  // namespace

std::string backfill_rows(const BackfillPlan& backfill, const std::string& mismatch,
                          const ColumnDdl& ddl, bool repair) {
  const std::string column = ddl.quote(backfill.column) + " IS NULL";
  const std::string expression = "(" + backfill.expression + ") IS NULL";
  if (repair) {
    return "(" + mismatch + ") AND NOT (" + column + " AND " + expression + ")";
  }
  return column + " AND NOT " + expression;
}

PhasePlan plan_phases(const MigrationSpec& spec, const ddl::QualifiedName& table,
                      const std::optional<ColumnFacts>& subject, const ColumnDdl& ddl) {
  if (!spec.backfill.empty()) {
    require_one_expression(ddl.dialect(), spec.backfill);
  }
  PhasePlan plan;
  const std::string column = spec.column.empty() ? "" : ddl.quote(spec.column);
  switch (spec.operation) {
    case MigrationOperation::add_column:
      plan.expand = ddl.add_column(table, spec.column, spec.type);
      if (spec.has_backfill()) {
        plan.backfill = BackfillPlan{spec.column, spec.backfill};
        plan.mismatch = ddl.differs(column, "(" + spec.backfill + ")");
      }
      plan.abort = ddl.drop_column(table, spec.column);
      plan.after_expand = "deploy a version that writes " + column + " on every insert and update";
      plan.after_switch = "the application may read " + column;
      break;
    case MigrationOperation::rename_column:
    case MigrationOperation::change_type:
      plan_moved_column(spec, table, require(subject), ddl, plan);
      break;
    case MigrationOperation::add_not_null:
      plan.expand = ddl.guard_not_null(table, spec.column);
      if (spec.has_backfill()) {
        plan.backfill = BackfillPlan{spec.column, spec.backfill};
      }
      plan.mismatch = column + " IS NULL";
      plan.switch_steps = ddl.set_not_null(table, spec.column, require(subject));
      plan.abort = ddl.unguard_not_null(table, spec.column);
      plan.after_expand = "deploy a version that never writes NULL into " + column +
                          (spec.has_backfill() ? "; backfill fills the NULLs already there"
                                               : "; existing NULLs must be fixed before switch");
      plan.after_switch = column + " is NOT NULL";
      break;
    case MigrationOperation::drop_column: {
      const ColumnFacts& facts = require(subject);
      if (!facts.nullable && !facts.default_sql) {
        plan.switch_steps = ddl.drop_not_null(table, spec.column, facts);
      }
      plan.contract = ddl.drop_column(table, spec.column);
      plan.dropped_column = spec.column;
      plan.after_expand = "deploy a version that no longer reads " + column;
      plan.after_switch = "deploy a version that no longer writes " + column +
                          "; contract drops it once no client of the previous version is "
                          "connected";
      break;
    }
    case MigrationOperation::add_index:
      plan.expand = ddl.create_index(table, spec.index_name, spec.index_columns, spec.unique);
      plan.abort = ddl.drop_index(table, spec.index_name);
      plan.after_expand = "nothing: the index is built and maintained by the server";
      plan.after_switch = "queries may rely on the index";
      break;
    case MigrationOperation::rebuild:
      plan.switch_steps = {Step{StepKind::online_rebuild, "", spec.alter}};
      plan.after_expand = "nothing until switch, which rebuilds the table online";
      plan.after_switch = "the table has its new schema; contract drops the old copy";
      break;
  }
  for (const Step& step : plan.switch_steps) {
    if (step.kind == StepKind::online_rebuild) {
      // The rebuild keeps the original table until contract, as a way back.
      plan.contract.push_back(Step{StepKind::drop_old_table, "", ""});
      break;
    }
  }
  return plan;
}

}  // namespace sluice

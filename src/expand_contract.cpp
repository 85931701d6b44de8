#include "src/expand_contract.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "src/archive.h"
#include "src/error.h"
#include "src/expand_contract_session.h"
#include "src/lease.h"
#include "src/migrator.h"
#include "src/rebuild_backend.h"

namespace sluice {
namespace {

constexpr std::size_t kSampleKeys = 5;

nlohmann::json facts_json(const ColumnFacts& facts) {
  nlohmann::json json{{"type", facts.type}, {"nullable", facts.nullable}};
  if (facts.default_sql) {
    json["default"] = *facts.default_sql;
  }
  return json;
}

ColumnFacts facts_from_json(const nlohmann::json& json) {
  ColumnFacts facts;
  facts.type = json.at("type").get<std::string>();
  facts.nullable = json.at("nullable").get<bool>();
  if (json.contains("default")) {
    facts.default_sql = json["default"].get<std::string>();
  }
  return facts;
}

// Operations that read an existing column, which must be there before expand.
bool reads_existing_column(MigrationOperation operation) {
  return operation == MigrationOperation::rename_column ||
         operation == MigrationOperation::change_type ||
         operation == MigrationOperation::add_not_null ||
         operation == MigrationOperation::drop_column;
}

std::string phase_list(const std::vector<Phase>& phases) {
  std::string text;
  for (Phase phase : phases) {
    text += (text.empty() ? "" : " or ") + std::string(phase_name(phase));
  }
  return text;
}

void print_steps(std::ostream& out, const std::vector<Step>& steps) {
  if (steps.empty()) {
    out << "    (no schema change)\n";
  }
  for (const Step& step : steps) {
    switch (step.kind) {
      case StepKind::online_rebuild:
        out << "    sluice's online rebuild (shadow copy, change stream, verify, swap) with ALTER "
               "TABLE … "
            << step.sql << ";\n";
        break;
      case StepKind::drop_old_table:
        out << "    DROP TABLE of the original table the rebuild kept;\n";
        break;
      default:
        out << "    " << step.sql << ";\n";
    }
  }
}

}  // namespace

ExpandContract::ExpandContract(const ServerFamily& family, const Dsn& dsn,
                               std::optional<std::string> password, ExpandContractSettings settings,
                               MigrationControl& control, const std::atomic<bool>& stop)
    : dsn_(dsn),
      password_(std::move(password)),
      settings_(std::move(settings)),
      control_(control),
      stop_(stop),
      family_(family),
      backend_(family.column_backend(dsn, password_)) {}

ExpandContract::~ExpandContract() = default;

PhaseStore& ExpandContract::store(const std::string& fallback_schema) {
  if (!store_) {
    store_ = family_.phase_store(dsn_, password_, settings_.metadata_schema, fallback_schema);
  }
  return *store_;
}

std::optional<MigrationRecord> ExpandContract::find(const std::string& name) {
  return store(dsn_.database).find(name);
}

std::optional<ColumnFacts> ExpandContract::subject_of(const MigrationSpec& spec,
                                                      const ddl::QualifiedName& table) {
  if (!reads_existing_column(spec.operation)) {
    return std::nullopt;
  }
  std::optional<ColumnFacts> subject = backend_->column(table, spec.column);
  if (!subject) {
    throw Error(ExitCode::not_found, "column " + backend_->ddl().quote(spec.column) +
                                         " does not exist in " +
                                         ddl::quote_qualified(backend_->ddl().dialect(), table));
  }
  return subject;
}

void ExpandContract::plan(const MigrationSpec& spec, std::ostream& out) {
  const ddl::QualifiedName table = backend_->resolve_table(spec.table);
  const std::optional<ColumnFacts> subject = subject_of(spec, table);
  const PhasePlan plan = plan_phases(spec, table, subject, backend_->ddl());
  if (plan.backfill) {
    backend_->check_expression(table, plan.backfill->expression);
  }
  out << "migration " << spec.name << ": " << operation_name(spec.operation) << " on "
      << ddl::quote_qualified(backend_->ddl().dialect(), table) << "\n"
      << "  expand (sluice expand FILE):\n";
  print_steps(out, plan.expand);
  out << "  then the application: " << plan.after_expand << "\n";
  out << "  backfill (sluice backfill " << spec.name << "):\n";
  if (plan.backfill) {
    out << "    in key order, in batches: SET " << backend_->ddl().quote(plan.backfill->column)
        << " = (" << plan.backfill->expression << ") where it IS NULL\n";
  } else {
    out << "    (nothing to copy)\n";
  }
  out << "  verify (sluice verify " << spec.name << "; switch verifies again):\n"
      << "    " << (plan.mismatch ? "no row may satisfy " + *plan.mismatch : "(no row check)")
      << "\n  switch (sluice switch " << spec.name << "):\n";
  print_steps(out, plan.switch_steps);
  out << "  then the application: " << plan.after_switch << "\n"
      << "  contract (sluice contract " << spec.name << ", after a grace period of "
      << spec.grace_seconds << " s"
      << (spec.old_clients.empty() ? "" : " and once no session matches " + spec.old_clients)
      << "):\n";
  print_steps(out, plan.contract);
  out << "  abort before switch (sluice abort " << spec.name << "):\n";
  print_steps(out, plan.abort);
}

void ExpandContract::expand(const MigrationSpec& spec) {
  const ddl::QualifiedName table = backend_->resolve_table(spec.table);
  const ddl::Dialect dialect = backend_->ddl().dialect();
  PhaseStore& phases = store(table.schema);
  phases.ensure_schema();
  std::optional<MigrationRecord> recorded = phases.find(spec.name);
  if (recorded && !is_phased_spec(recorded->spec)) {
    throw Error(ExitCode::usage,
                "the name '" + spec.name + "' belongs to a sluice alter run; rename the migration");
  }
  if (recorded && MigrationSpec::from_json(recorded->spec).to_json() != spec.to_json()) {
    throw Error(ExitCode::usage, "migration '" + spec.name +
                                     "' was expanded from a different file; a migration's file "
                                     "must not change after expand (write a new migration)");
  }
  if (recorded && recorded->phase != Phase::planned && recorded->phase != Phase::expanding) {
    spdlog::info("migration {} is already {}; nothing to expand", spec.name,
                 phase_name(recorded->phase));
    return;
  }
  nlohmann::json checkpoint = nlohmann::json::object();
  if (!recorded) {
    const std::optional<ColumnFacts> subject = subject_of(spec, table);
    if (subject) {
      checkpoint["subject"] = facts_json(*subject);
    }
    const std::string added =
        spec.operation == MigrationOperation::add_column ? spec.column : spec.new_column;
    if (!added.empty() && backend_->column(table, added)) {
      throw Error(ExitCode::preflight_failed,
                  "column " + backend_->ddl().quote(added) + " already exists in " +
                      ddl::quote_qualified(dialect, table) + "; choose another name");
    }
    const PhasePlan plan = plan_phases(spec, table, subject, backend_->ddl());
    for (const Step& step : plan.expand) {
      // done() refuses a name that another object holds. An index that is already there as the
      // migration would build it is not the migration's either: abort would drop it.
      if (backend_->done(table, step) && step.kind == StepKind::create_index) {
        throw Error(ExitCode::preflight_failed,
                    "index " + backend_->ddl().quote(step.object) + " already exists on " +
                        ddl::quote_qualified(dialect, table) +
                        "; choose another index-name (or record nothing: the index is there)");
      }
    }
    if (plan.backfill) {
      backend_->check_expression(table, plan.backfill->expression);
      backend_->key_columns(table);
    }
    MigrationRecord record;
    record.name = spec.name;
    record.table = ddl::quote_qualified(dialect, table);
    record.operation = std::string(operation_name(spec.operation));
    record.spec = spec.to_json();
    record.grace_seconds = spec.grace_seconds;
    const std::int64_t id = phases.start(record, this_runner());
    phases.save_checkpoint(id, checkpoint.dump());
    phases.release_lease(id, this_runner());
  }
  std::unique_ptr<Session> session = open(spec.name, {Phase::planned, Phase::expanding}, "expand");
  run_steps(*session, session->plan.expand);
  session->enter(Phase::expanding);
  spdlog::info("expanded {}; next, the application: {}", spec.name, session->plan.after_expand);
}

std::unique_ptr<ExpandContract::Session> ExpandContract::open(const std::string& name,
                                                              const std::vector<Phase>& allowed,
                                                              const std::string& command) {
  PhaseStore& phases = store(dsn_.database);
  std::optional<MigrationRecord> record = phases.find(name);
  if (!record) {
    throw Error(ExitCode::not_found, "no migration named '" + name +
                                         "' is recorded; run sluice expand FILE first (or check "
                                         "--metadata-schema)");
  }
  if (!is_phased_spec(record->spec)) {
    throw Error(ExitCode::usage, "migration '" + name +
                                     "' is a sluice alter run; see sluice status and sluice "
                                     "alter --resume");
  }
  if (std::find(allowed.begin(), allowed.end(), record->phase) == allowed.end()) {
    throw Error(ExitCode::preflight_failed, "sluice " + command + " needs migration '" + name +
                                                "' to be " + phase_list(allowed) + ", but it is " +
                                                std::string(phase_name(record->phase)) +
                                                "; see sluice status " + name);
  }
  auto session = std::make_unique<Session>();
  session->store = &phases;
  session->spec = MigrationSpec::from_json(record->spec);
  session->table = backend_->resolve_table(record->table);
  if (!record->checkpoint.empty()) {
    session->checkpoint = nlohmann::json::parse(record->checkpoint, nullptr, false);
    if (!session->checkpoint.is_object()) {
      throw Error(ExitCode::failure, "the checkpoint of migration '" + name + "' is damaged");
    }
  }
  std::optional<ColumnFacts> subject;
  if (session->checkpoint.contains("subject")) {
    subject = facts_from_json(session->checkpoint["subject"]);
  }
  session->plan = plan_phases(session->spec, session->table, subject, backend_->ddl());
  release_if_gone(phases, *record);
  if (!phases.take_over(record->id, this_runner())) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + name + "' is being driven by " + record->owner +
                    ", whose lease runs until " + record->lease_until +
                    " UTC; wait for it to finish (a stopped runner's lease expires within " +
                    std::to_string(PhaseStore::kLeaseSeconds) + " s)");
  }
  session->lease = std::make_unique<Lease>(
      [&family = family_, dsn = dsn_, password = password_, schema = settings_.metadata_schema,
       fallback = session->table.schema] {
        return family.phase_store(dsn, password, schema, fallback);
      },
      record->id, this_runner());
  session->record = std::move(*record);
  return session;
}

void ExpandContract::run_steps(Session& session, const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    session.check_lease();
    if (stop_.load()) {
      throw Error(ExitCode::interrupted,
                  "interrupted; every finished step is recorded, re-run "
                  "the command to go on");
    }
    if (step.kind == StepKind::online_rebuild) {
      run_online_rebuild(session, step);
      continue;
    }
    Step runnable = step;
    if (step.kind == StepKind::drop_old_table) {
      const std::optional<ddl::QualifiedName> old = old_table(session);
      if (!old) {
        continue;  // the rebuild happened in place: there is no old table
      }
      runnable.sql =
          "DROP TABLE IF EXISTS " + ddl::quote_qualified(backend_->ddl().dialect(), *old);
    } else if (backend_->done(session.table, step)) {
      require_added_columns(session, {step});
      spdlog::info("already done: {}", step.sql);
      continue;
    }
    spdlog::info("running: {}", runnable.sql);
    backend_->run(session.table, runnable, settings_.lock_timeout, settings_.lock_attempts);
    if (step.kind == StepKind::add_column) {
      // What the column is as the step made it: a re-run's "already done" compares with it.
      if (const std::optional<ColumnFacts> made = backend_->column(session.table, step.object)) {
        session.checkpoint["added"][step.object] = facts_json(*made);
        session.save();
      }
    }
  }
}

void ExpandContract::require_added_columns(const Session& session, const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    if (step.kind != StepKind::add_column || !session.checkpoint.contains("added") ||
        !session.checkpoint["added"].contains(step.object)) {
      continue;
    }
    const ColumnFacts made = facts_from_json(session.checkpoint["added"][step.object]);
    const std::optional<ColumnFacts> now = backend_->column(session.table, step.object);
    if (now && now->type != made.type) {
      throw Error(ExitCode::preflight_failed,
                  "column " + backend_->ddl().quote(step.object) + " of " +
                      ddl::quote_qualified(backend_->ddl().dialect(), session.table) + " is " +
                      now->type + ", not the " + made.type +
                      " this migration added: another change replaced it; undo that change, or "
                      "abort this migration and write a new one");
    }
  }
}

std::optional<ddl::QualifiedName> ExpandContract::old_table(const Session& session) const {
  const bool drops_it =
      std::any_of(session.plan.contract.begin(), session.plan.contract.end(),
                  [](const Step& step) { return step.kind == StepKind::drop_old_table; });
  if (!drops_it || !session.checkpoint.contains("old_table")) {
    return std::nullopt;
  }
  const nlohmann::json& old = session.checkpoint["old_table"];
  return ddl::QualifiedName{old["schema"].get<std::string>(), old["name"].get<std::string>()};
}

void ExpandContract::run_online_rebuild(Session& session, const Step& step) {
  if (!step.object.empty() ? backend_->done(session.table, step)
                           : session.checkpoint.value("rebuilt", false)) {
    spdlog::info("already done: the online rebuild with {}", step.sql);
    return;
  }
  RebuildOptions options;
  options.table = ddl::quote_qualified(backend_->ddl().dialect(), session.table);
  options.alter = step.sql;
  options.chunk_time = settings_.batch_time;
  options.cutover_lock_timeout = settings_.lock_timeout;
  options.cutover_attempts = settings_.lock_attempts;
  std::unique_ptr<RebuildBackend> rebuild = family_.rebuild_backend(dsn_, password_);
  // Recorded before the swap: a crash after it must still let contract drop the old table. The
  // plan refuses when that name is taken, so the name can only ever be the rebuild's own table.
  const RebuildPlan& plan = rebuild->plan(options);
  session.checkpoint["old_table"] = {{"schema", plan.old.schema}, {"name", plan.old.name}};
  session.save();
  spdlog::info("rebuilding {} online with {}", options.table, step.sql);
  Migrator migrator(*rebuild, options, stop_);
  migrator.set_control(control_);
  migrator.execute(plan);
  session.checkpoint["rebuilt"] = true;
  session.save();
}

void ExpandContract::wait_turn(const std::string& table, std::uint64_t done, std::uint64_t rows) {
  MigrationStatus status;
  status.step = RunStep::copy;
  status.table = table;
  status.rows_copied = done;
  status.chunk_rows = rows;
  control_.wait_while_throttled(status, [](bool) {});
  if (std::optional<std::string> reason = control_.abort_reason()) {
    throw Error(ExitCode::aborted,
                "stopped: " + *reason + "; progress is recorded, re-run the command to go on");
  }
  if (stop_.load()) {
    throw Error(ExitCode::interrupted,
                "interrupted; progress is recorded, re-run the command to go on");
  }
}

VerifyReport ExpandContract::check_rows(Session& session) {
  VerifyReport report;
  if (!session.plan.mismatch) {
    return report;
  }
  report.checked = true;
  const std::string table = ddl::quote_qualified(backend_->ddl().dialect(), session.table);
  std::uint64_t checked = 0;
  const auto size = [&] {
    wait_turn(table, checked, kReadBatchRows);
    return kReadBatchRows;
  };
  walk_batches(session, session.table, std::nullopt, size, [&](const KeyRange& range) {
    report.mismatches += backend_->count_where(
        session.table, *session.plan.mismatch, range,
        kSampleKeys - std::min(kSampleKeys, report.samples.size()), report.samples);
    checked += kReadBatchRows;
  });
  return report;
}

void ExpandContract::walk_batches(Session& session, const ddl::QualifiedName& table,
                                  std::optional<KeyText> after,
                                  const std::function<std::uint64_t()>& size,
                                  const std::function<void(const KeyRange&)>& visit) {
  for (;;) {
    session.check_lease();
    std::optional<KeyText> end = backend_->batch_end(table, after, size());
    visit(KeyRange{after, end});
    if (!end) {
      return;
    }
    after = std::move(end);
  }
}

VerifyReport ExpandContract::verify(const std::string& name) {
  std::unique_ptr<Session> session = open(name, {Phase::expanding, Phase::backfilling}, "verify");
  const VerifyReport report = check_rows(*session);
  note_verification(*session, report);
  if (report.mismatches > 0) {
    spdlog::warn("migration {}: {} rows fail the check {}", name, report.mismatches,
                 *session->plan.mismatch);
  }
  return report;
}

void ExpandContract::switch_over(const std::string& name, bool force) {
  std::unique_ptr<Session> session = open(name, {Phase::expanding, Phase::backfilling}, "switch");
  // Switching moves constraints onto the added column: it must still be the one expand added.
  require_added_columns(*session, session->plan.expand);
  const nlohmann::json backfill = session->checkpoint.value("backfill", nlohmann::json::object());
  if (session->plan.backfill && !backfill.value("done", false)) {
    throw Error(
        ExitCode::preflight_failed,
        "migration '" + name + "' is not backfilled yet; run sluice backfill " + name + " first");
  }
  const VerifyReport report = check_rows(*session);
  note_verification(*session, report);
  if (report.mismatches > 0) {
    std::string keys;
    for (const KeyText& key : report.samples) {
      keys += (keys.empty() ? "" : ", ") + describe_key(key);
    }
    throw Error(ExitCode::preflight_failed,
                "refusing to switch migration '" + name +
                    "': " + std::to_string(report.mismatches) + " rows fail the check " +
                    *session->plan.mismatch + " (keys " + keys +
                    "); make the application write both columns, run sluice backfill --repair " +
                    name + " (it rewrites those rows from the old column), then switch");
  }
  if (const std::optional<std::string> blocker =
          force ? std::nullopt : switch_blocker_of(*session)) {
    throw Error(ExitCode::preflight_failed, "refusing to switch: " + *blocker);
  }
  run_steps(*session, session->plan.switch_steps);
  session->enter(Phase::switched);
  spdlog::info("switched {}; next, the application: {}", name, session->plan.after_switch);
}

void ExpandContract::contract(const std::string& name, const ContractOptions& options) {
  const std::optional<MigrationRecord> record = find(name);
  if (record && record->phase == Phase::contracted) {
    spdlog::info("migration {} is already contracted", name);
    return;
  }
  if (record && !is_phased_spec(record->spec)) {
    contract_alter_run(*record, options);
    return;
  }
  std::unique_ptr<Session> session = open(name, {Phase::switched}, "contract");
  if (const std::optional<std::string> blocker = blocker_of(*session, options)) {
    throw Error(ExitCode::preflight_failed, *blocker);
  }
  if (!options.archive.empty()) {
    write_archive(*session, options.archive);
  }
  run_steps(*session, session->plan.contract);
  session->enter(Phase::contracted);
}

void ExpandContract::abort(const std::string& name) {
  const std::optional<MigrationRecord> record = find(name);
  if (record && record->phase == Phase::switched) {
    throw Error(ExitCode::preflight_failed,
                "migration '" + name +
                    "' is switched: the application may already depend on the new schema, so "
                    "abort would break it; write a new migration to undo it");
  }
  std::unique_ptr<Session> session =
      open(name, {Phase::planned, Phase::expanding, Phase::backfilling}, "abort");
  run_steps(*session, session->plan.abort);
  session->store->set_phase(session->record.id, Phase::aborted, "aborted on request");
  spdlog::info("migration {} is aborted; the table is as it was before expand", name);
}

}  // namespace sluice

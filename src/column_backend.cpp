#include "src/column_backend.h"

#include <stdexcept>

#include "src/error.h"

namespace sluice {

bool ColumnBackend::done(const ddl::QualifiedName& table, const Step& step) {
  switch (step.kind) {
    case StepKind::add_column:
      return column(table, step.object).has_value();
    case StepKind::drop_column:
      return !column(table, step.object).has_value();
    case StepKind::drop_not_null: {
      const std::optional<ColumnFacts> facts = column(table, step.object);
      return !facts || facts->nullable;
    }
    case StepKind::set_not_null:
    case StepKind::online_rebuild: {
      const std::optional<ColumnFacts> facts = column(table, step.object);
      return facts && !facts->nullable;
    }
    default:
      return object_done(table, step);
  }
}

LockRetryPolicy step_lock_policy(std::chrono::milliseconds lock_timeout, int attempts) {
  LockRetryPolicy policy;
  policy.timeout = lock_timeout;
  policy.attempts = attempts;
  policy.first_pause = std::chrono::milliseconds(500);
  return policy;
}

LockRetryPolicy backfill_lock_policy(std::chrono::milliseconds timeout) {
  LockRetryPolicy policy;
  policy.timeout = timeout;
  policy.attempts = kBackfillAttempts;
  policy.first_pause = std::chrono::milliseconds(100);
  return policy;
}

KeyText key_text(const ResultRow& row, std::size_t columns) {
  KeyText key;
  for (std::size_t i = 0; i < columns; ++i) {
    key.push_back(row.at(i).value_or(""));
  }
  return key;
}

std::uint64_t count_with_samples(
    const std::function<std::vector<ResultRow>(const std::string& sql)>& select,
    const std::string& from_where, const std::string& key_select, const std::string& key_order,
    std::size_t samples, std::vector<KeyText>& sample_keys) {
  const std::vector<ResultRow> counted = select("SELECT COUNT(*)" + from_where);
  const std::uint64_t count = std::stoull(counted.at(0).at(0).value_or("0"));
  if (count > 0 && samples > 0) {
    for (const ResultRow& row : select("SELECT " + key_select + from_where + " ORDER BY " +
                                       key_order + " LIMIT " + std::to_string(samples))) {
      sample_keys.push_back(key_text(row, row.size()));
    }
  }
  return count;
}

std::string session_list(const std::string& this_session, const std::vector<std::string>& ids) {
  std::string list = this_session;
  for (const std::string& id : ids) {
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("a session id must be a number: " + id);
    }
    list += ", " + id;
  }
  return list;
}

std::vector<std::string> sessions_matching(Session& session, const std::string& sql,
                                           const std::string& condition, const std::string& view) {
  std::vector<ResultRow> rows;
  try {
    rows = session.query(sql);
  } catch (const ServerError& error) {
    throw Error(ExitCode::usage, "the old-clients condition '" + condition +
                                     "' is not valid over " + view + ": " + error.what());
  }
  std::vector<std::string> sessions;
  for (const ResultRow& row : rows) {
    sessions.push_back(row.at(0).value_or("") + " " + row.at(1).value_or("") + "@" +
                       row.at(2).value_or("") + " " + row.at(3).value_or(""));
  }
  return sessions;
}

}  // namespace sluice

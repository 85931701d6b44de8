#include "src/postgres/pg_cut_over_sql.h"

#include <algorithm>

#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::postgres {

std::vector<std::string> swap_locks(const PgTablePlan& plan, std::chrono::milliseconds timeout) {
  return lock_past_vacuum(plan.quoted_shadow + ", " + plan.quoted_table, plan.table,
                          LockMode::exclusive, timeout);
}

std::string rename_table(const std::string& table, const std::string& name) {
  return "ALTER TABLE " + table + " RENAME TO " + ident(name);
}

namespace {

// The name a shadow relation is parked under while the relation whose derived name it holds
// takes that name: a revert swaps names in a cycle (t_pkey -> t_pkey_old, t_pkey_old -> t_pkey).
std::string parked_name(const std::string& name) {
  return derived_name(name, "_sluice_swap");
}

}  // namespace

std::vector<std::string> index_renames(
    const std::string& schema, const std::vector<std::pair<std::string, std::string>>& pairs,
    const std::string& old_suffix, const std::vector<std::string>& named_by_alter) {
  std::vector<std::string> parking;
  std::vector<std::string> statements;
  std::vector<std::string> taken = named_by_alter;
  std::vector<std::string> derived;
  for (const auto& [original, shadow] : pairs) {
    derived.push_back(derived_name(original, old_suffix));
  }
  for (const auto& [original, shadow] : pairs) {
    if (std::find(taken.begin(), taken.end(), shadow) != taken.end() || original == shadow) {
      continue;
    }
    taken.push_back(shadow);
    std::string from = shadow;
    if (std::find(derived.begin(), derived.end(), shadow) != derived.end()) {
      from = parked_name(shadow);
      parking.push_back("ALTER INDEX " + ident(ddl::QualifiedName{schema, shadow}) + " RENAME TO " +
                        ident(from));
    }
    statements.push_back("ALTER INDEX " + ident(ddl::QualifiedName{schema, original}) +
                         " RENAME TO " + ident(derived_name(original, old_suffix)));
    statements.push_back("ALTER INDEX " + ident(ddl::QualifiedName{schema, from}) + " RENAME TO " +
                         ident(original));
  }
  parking.insert(parking.end(), statements.begin(), statements.end());
  return parking;
}

std::string continue_sequence(const SequenceMove& move) {
  return "SELECT setval($1::regclass, last_value, is_called) FROM " + move.source;
}

std::vector<std::string> carry_sequence(const SequenceMove& move, const std::string& table,
                                        const std::string& old_suffix) {
  if (!move.shadow) {
    return {"ALTER SEQUENCE " + move.source + " OWNED BY " + table + "." + ident(move.column)};
  }
  const std::string derived = derived_name(move.source_name, old_suffix);
  if (move.shadow_name != derived) {
    return {"ALTER SEQUENCE " + move.source + " RENAME TO " + ident(derived),
            "ALTER SEQUENCE " + *move.shadow + " RENAME TO " + ident(move.source_name)};
  }
  const std::string parked = parked_name(move.shadow_name);
  return {"ALTER SEQUENCE " + *move.shadow + " RENAME TO " + ident(parked),
          "ALTER SEQUENCE " + move.source + " RENAME TO " + ident(derived),
          "ALTER SEQUENCE " + ident(ddl::QualifiedName{move.schema, parked}) + " RENAME TO " +
              ident(move.source_name)};
}

std::string force_row_security(const std::string& table) {
  return "ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY";
}

std::optional<std::string> enable_trigger(const std::string& table, const TriggerState& trigger) {
  const std::string& enabled = trigger.enabled;
  const std::string mode = enabled == "R"   ? "ENABLE REPLICA"
                           : enabled == "A" ? "ENABLE ALWAYS"
                           : enabled == "D" ? ""
                                            : "ENABLE";
  if (mode.empty()) {
    return std::nullopt;
  }
  return "ALTER TABLE " + table + " " + mode + " TRIGGER " + trigger.name;
}

std::optional<std::string> replica_identity(const std::string& table, const std::string& kind,
                                            const std::optional<std::string>& index) {
  if (kind == "f") {
    return "ALTER TABLE " + table + " REPLICA IDENTITY FULL";
  }
  if (kind == "n") {
    return "ALTER TABLE " + table + " REPLICA IDENTITY NOTHING";
  }
  if (kind == "i" && index) {
    return "ALTER TABLE " + table + " REPLICA IDENTITY USING INDEX " + *index;
  }
  return std::nullopt;
}

std::vector<std::string> move_publication(const std::string& publication, const std::string& old,
                                          const std::string& table,
                                          const std::optional<std::string>& columns,
                                          const std::optional<std::string>& filter) {
  return {"ALTER PUBLICATION " + publication + " DROP TABLE " + old,
          "ALTER PUBLICATION " + publication + " ADD TABLE " + table +
              (columns ? " (" + *columns + ")" : "") + (filter ? " WHERE (" + *filter + ")" : "")};
}

std::string not_valid(const std::string& definition, bool& validate) {
  const std::string suffix = " NOT VALID";
  validate = definition.size() < suffix.size() ||
             definition.compare(definition.size() - suffix.size(), suffix.size(), suffix) != 0;
  return validate ? definition + suffix : definition;
}

std::string view_body(std::string definition) {
  while (!definition.empty() && (definition.back() == ';' || definition.back() == ' ')) {
    definition.pop_back();
  }
  return definition;
}

std::vector<std::string> recreate_dependents(const std::vector<Dependent>& dependents) {
  std::vector<std::string> statements;
  for (const Dependent& dependent : dependents) {
    if (dependent.kind == Dependent::Kind::foreign_key) {
      statements.push_back("ALTER TABLE " + dependent.old_table + " DROP CONSTRAINT " +
                           dependent.name);
      statements.push_back("ALTER TABLE " + dependent.table + " ADD CONSTRAINT " + dependent.name +
                           " " + dependent.definition);
    } else {
      statements.push_back("CREATE OR REPLACE VIEW " + dependent.name +
                           (dependent.options.empty() ? "" : " WITH (" + dependent.options + ")") +
                           " AS " + dependent.definition);
    }
  }
  return statements;
}

std::string validate_constraint(const Dependent& foreign_key) {
  return "ALTER TABLE " + foreign_key.table + " VALIDATE CONSTRAINT " + foreign_key.name;
}

}  // namespace sluice::postgres

#include "src/postgres/pg_column_ddl.h"

namespace sluice::postgres {
namespace {

// PostgreSQL truncates names to 63 bytes; cut at a character boundary so the name stays valid.
std::string check_name(const std::string& column) {
  std::string name = "sluice_not_null_" + column;
  if (name.size() > 63) {
    std::size_t end = 63;
    while (end > 0 && (static_cast<unsigned char>(name[end]) & 0xC0) == 0x80) {
      --end;
    }
    name.resize(end);
  }
  return name;
}

class PgColumnDdl : public ColumnDdl {
 public:
  ddl::Dialect dialect() const override { return ddl::Dialect::postgres; }

  std::vector<Step> add_column(const ddl::QualifiedName& table, const std::string& column,
                               const std::string& type) const override {
    return {alter(StepKind::add_column, table, column, "ADD COLUMN " + quote(column) + " " + type)};
  }
  std::vector<Step> drop_column(const ddl::QualifiedName& table,
                                const std::string& column) const override {
    return {alter(StepKind::drop_column, table, column, "DROP COLUMN " + quote(column))};
  }
  std::vector<Step> drop_not_null(const ddl::QualifiedName& table, const std::string& column,
                                  const ColumnFacts& /*facts*/) const override {
    return {alter(StepKind::drop_not_null, table, column,
                  "ALTER COLUMN " + quote(column) + " DROP NOT NULL")};
  }
  std::vector<Step> set_not_null(const ddl::QualifiedName& table, const std::string& column,
                                 const ColumnFacts& /*facts*/) const override {
    // SET NOT NULL scans the table under an exclusive lock unless a validated CHECK already
    // proves it; VALIDATE scans without blocking writes.
    std::vector<Step> steps = guard_not_null(table, column);
    const std::string check = check_name(column);
    steps.push_back(
        alter(StepKind::validate_check, table, check, "VALIDATE CONSTRAINT " + quote(check)));
    steps.push_back(alter(StepKind::set_not_null, table, column,
                          "ALTER COLUMN " + quote(column) + " SET NOT NULL"));
    std::vector<Step> drop = unguard_not_null(table, column);
    steps.insert(steps.end(), drop.begin(), drop.end());
    return steps;
  }
  std::vector<Step> set_default(const ddl::QualifiedName& table, const std::string& column,
                                const std::string& default_sql) const override {
    return {alter(StepKind::set_default, table, column,
                  "ALTER COLUMN " + quote(column) + " SET DEFAULT " + default_sql)};
  }
  std::vector<Step> guard_not_null(const ddl::QualifiedName& table,
                                   const std::string& column) const override {
    const std::string check = check_name(column);
    Step step = alter(
        StepKind::add_check, table, check,
        "ADD CONSTRAINT " + quote(check) + " CHECK (" + quote(column) + " IS NOT NULL) NOT VALID");
    step.columns = {column};
    return {step};
  }
  std::vector<Step> unguard_not_null(const ddl::QualifiedName& table,
                                     const std::string& column) const override {
    const std::string check = check_name(column);
    return {alter(StepKind::drop_check, table, check, "DROP CONSTRAINT " + quote(check))};
  }
  std::vector<Step> create_index(const ddl::QualifiedName& table, const std::string& index,
                                 const std::vector<std::string>& columns,
                                 bool unique) const override {
    return {Step{StepKind::create_index, index,
                 std::string(unique ? "CREATE UNIQUE INDEX CONCURRENTLY "
                                    : "CREATE INDEX "
                                      "CONCURRENTLY ") +
                     quote(index) + " ON " + qualified(table) + " (" + quote_list(columns) + ")",
                 columns, unique}};
  }
  std::vector<Step> drop_index(const ddl::QualifiedName& table,
                               const std::string& index) const override {
    return {Step{StepKind::drop_index, index,
                 "DROP INDEX CONCURRENTLY " + qualified(ddl::QualifiedName{table.schema, index})}};
  }
  std::string differs(const std::string& a, const std::string& b) const override {
    return a + " IS DISTINCT FROM " + b;
  }
  std::string default_conversion(const std::string& column,
                                 const std::string& type) const override {
    return "CAST(" + quote(column) + " AS " + type + ")";
  }

 private:
  static std::string qualified(const ddl::QualifiedName& name) {
    return ddl::quote_qualified(ddl::Dialect::postgres, name);
  }
  Step alter(StepKind kind, const ddl::QualifiedName& table, const std::string& object,
             const std::string& clause) const {
    return Step{kind, object, "ALTER TABLE " + qualified(table) + " " + clause};
  }
};

}  // namespace

const ColumnDdl& pg_column_ddl() {
  static const PgColumnDdl ddl;
  return ddl;
}

}  // namespace sluice::postgres

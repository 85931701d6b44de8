#include "src/mysql/mysql_column_ddl.h"

namespace sluice::mysql {
namespace {

class MysqlColumnDdl : public ColumnDdl {
 public:
  ddl::Dialect dialect() const override { return ddl::Dialect::mysql; }

  std::vector<Step> add_column(const ddl::QualifiedName& table, const std::string& column,
                               const std::string& type) const override {
    return {alter(StepKind::add_column, table, column,
                  "ADD COLUMN " + quote(column) + " " + type + " NULL")};
  }
  std::vector<Step> drop_column(const ddl::QualifiedName& table,
                                const std::string& column) const override {
    return {alter(StepKind::drop_column, table, column, "DROP COLUMN " + quote(column))};
  }
  std::vector<Step> drop_not_null(const ddl::QualifiedName& table, const std::string& column,
                                  const ColumnFacts& facts) const override {
    return {alter(StepKind::drop_not_null, table, column,
                  "MODIFY " + quote(column) + " " + facts.type + " NULL" + default_clause(facts))};
  }
  std::vector<Step> set_not_null(const ddl::QualifiedName& /*table*/, const std::string& column,
                                 const ColumnFacts& facts) const override {
    // InnoDB rebuilds the table for NOT NULL; sluice's online rebuild does that without
    // blocking writes.
    return {
        Step{StepKind::online_rebuild, column,
             "MODIFY " + quote(column) + " " + facts.type + " NOT NULL" + default_clause(facts)}};
  }
  std::vector<Step> set_default(const ddl::QualifiedName& table, const std::string& column,
                                const std::string& default_sql) const override {
    return {alter(StepKind::set_default, table, column,
                  "ALTER COLUMN " + quote(column) + " SET DEFAULT " + default_sql)};
  }
  std::vector<Step> guard_not_null(const ddl::QualifiedName&, const std::string&) const override {
    return {};
  }
  std::vector<Step> unguard_not_null(const ddl::QualifiedName&, const std::string&) const override {
    return {};
  }
  std::vector<Step> create_index(const ddl::QualifiedName& table, const std::string& index,
                                 const std::vector<std::string>& columns,
                                 bool unique) const override {
    Step step = alter(StepKind::create_index, table, index,
                      std::string(unique ? "ADD UNIQUE INDEX " : "ADD INDEX ") + quote(index) +
                          " (" + quote_list(columns) + ")");
    step.columns = columns;
    step.unique = unique;
    return {step};
  }
  std::vector<Step> drop_index(const ddl::QualifiedName& table,
                               const std::string& index) const override {
    return {alter(StepKind::drop_index, table, index, "DROP INDEX " + quote(index))};
  }
  std::string differs(const std::string& a, const std::string& b) const override {
    return "NOT (" + a + " <=> " + b + ")";
  }
  std::string default_conversion(const std::string& column,
                                 const std::string& /*type*/) const override {
    // Assignment converts to the new column's type (strict mode refuses a lossy value), and
    // CAST cannot name most column types.
    return quote(column);
  }

 private:
  Step alter(StepKind kind, const ddl::QualifiedName& table, const std::string& object,
             const std::string& clause) const {
    return Step{kind, object,
                "ALTER TABLE " + ddl::quote_qualified(ddl::Dialect::mysql, table) + " " + clause +
                    ", LOCK=NONE"};
  }
  static std::string default_clause(const ColumnFacts& facts) {
    return facts.default_sql ? " DEFAULT " + *facts.default_sql : "";
  }
};

}  // namespace

const ColumnDdl& mysql_column_ddl() {
  static const MysqlColumnDdl ddl;
  return ddl;
}

}  // namespace sluice::mysql

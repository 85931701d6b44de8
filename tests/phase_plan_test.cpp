#include "src/phase_plan.h"

#include <doctest/doctest.h>

#include "src/error.h"
#include "src/server_family.h"

using sluice::ColumnFacts;
using sluice::MigrationOperation;
using sluice::MigrationSpec;
using sluice::PhasePlan;
using sluice::StepKind;
using sluice::ddl::Dialect;

namespace {

MigrationSpec spec_of(const std::map<std::string, std::string>& settings) {
  std::map<std::string, std::string> all = settings;
  all["name"] = "m";
  all["table"] = "customers";
  return sluice::spec_from_settings(all, "test");
}

const sluice::ddl::QualifiedName kTable{"shop", "customers"};

}  // namespace

TEST_CASE("a rename on MySQL adds, backfills, moves NOT NULL and the default, then drops") {
  const MigrationSpec spec =
      spec_of({{"operation", "rename-column"}, {"column", "email"}, {"new-column", "mail"}});
  const ColumnFacts email{"varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", false,
                          "'none'"};
  const PhasePlan plan =
      sluice::plan_phases(spec, kTable, email, sluice::server_family(Dialect::mysql).column_ddl());
  REQUIRE(plan.expand.size() == 1);
  CHECK(plan.expand[0].kind == StepKind::add_column);
  CHECK(plan.expand[0].sql ==
        "ALTER TABLE `shop`.`customers` ADD COLUMN `mail` varchar(100) CHARACTER SET utf8mb4 "
        "COLLATE utf8mb4_bin NULL, LOCK=NONE");
  REQUIRE(plan.backfill);
  CHECK(plan.backfill->column == "mail");
  CHECK(plan.backfill->expression == "`email`");
  CHECK(plan.mismatch == "NOT (`mail` <=> (`email`))");
  REQUIRE(plan.switch_steps.size() == 3);
  CHECK(plan.switch_steps[0].kind == StepKind::drop_not_null);
  CHECK(plan.switch_steps[1].sql ==
        "ALTER TABLE `shop`.`customers` ALTER COLUMN `mail` SET DEFAULT 'none', LOCK=NONE");
  // InnoDB would rebuild the table for NOT NULL: that goes through sluice's online rebuild,
  // whose old table contract drops.
  CHECK(plan.switch_steps[2].kind == StepKind::online_rebuild);
  CHECK(plan.switch_steps[2].object == "mail");
  CHECK(plan.switch_steps[2].sql ==
        "MODIFY `mail` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT "
        "'none'");
  REQUIRE(plan.contract.size() == 2);
  CHECK(plan.contract[0].sql == "ALTER TABLE `shop`.`customers` DROP COLUMN `email`, LOCK=NONE");
  CHECK(plan.contract[1].kind == StepKind::drop_old_table);
  CHECK(plan.dropped_column == "email");
  REQUIRE(plan.abort.size() == 1);
  CHECK(plan.abort[0].sql == "ALTER TABLE `shop`.`customers` DROP COLUMN `mail`, LOCK=NONE");
}

TEST_CASE("a type change on PostgreSQL casts, and NOT NULL comes from a validated CHECK") {
  const MigrationSpec spec =
      spec_of({{"operation", "change-type"}, {"column", "amount"}, {"type", "numeric(12,2)"}});
  const PhasePlan plan =
      sluice::plan_phases(spec, {"public", "orders"}, ColumnFacts{"text", false, std::nullopt},
                          sluice::server_family(Dialect::postgres).column_ddl());
  CHECK(plan.expand.at(0).sql ==
        "ALTER TABLE \"public\".\"orders\" ADD COLUMN \"amount_new\" numeric(12,2)");
  CHECK(plan.backfill->expression == "CAST(\"amount\" AS numeric(12,2))");
  CHECK(*plan.mismatch == "\"amount_new\" IS DISTINCT FROM (CAST(\"amount\" AS numeric(12,2)))");
  std::vector<StepKind> kinds;
  for (const sluice::Step& step : plan.switch_steps) {
    kinds.push_back(step.kind);
  }
  CHECK(kinds == std::vector<StepKind>{StepKind::drop_not_null, StepKind::add_check,
                                       StepKind::validate_check, StepKind::set_not_null,
                                       StepKind::drop_check});
  CHECK(plan.switch_steps[1].sql ==
        "ALTER TABLE \"public\".\"orders\" ADD CONSTRAINT \"sluice_not_null_amount_new\" CHECK "
        "(\"amount_new\" IS NOT NULL) NOT VALID");
  CHECK(plan.contract.size() == 1);  // no rebuild, no old table
}

TEST_CASE(
    "add-not-null guards new writes at expand on PostgreSQL and rebuilds at switch on MySQL") {
  const MigrationSpec spec =
      spec_of({{"operation", "add-not-null"}, {"column", "note"}, {"backfill", "''"}});
  const ColumnFacts note{"text", true, std::nullopt};
  const PhasePlan pg = sluice::plan_phases(spec, {"public", "t"}, note,
                                           sluice::server_family(Dialect::postgres).column_ddl());
  REQUIRE(pg.expand.size() == 1);
  CHECK(pg.expand[0].kind == StepKind::add_check);
  CHECK(pg.abort.at(0).kind == StepKind::drop_check);
  CHECK(*pg.mismatch == "\"note\" IS NULL");
  const PhasePlan my = sluice::plan_phases(spec, {"db", "t"}, note,
                                           sluice::server_family(Dialect::mysql).column_ddl());
  CHECK(my.expand.empty());
  CHECK(my.switch_steps.at(0).kind == StepKind::online_rebuild);
  CHECK(my.contract.at(0).kind == StepKind::drop_old_table);
}

TEST_CASE("add-index builds online and drop-column only drops at contract") {
  const PhasePlan index = sluice::plan_phases(
      spec_of({{"operation", "add-index"}, {"index-columns", "a, b"}, {"unique", "true"}}),
      {"public", "t"}, std::nullopt, sluice::server_family(Dialect::postgres).column_ddl());
  CHECK(index.expand.at(0).sql ==
        "CREATE UNIQUE INDEX CONCURRENTLY \"idx_a_b\" ON \"public\".\"t\" (\"a\", \"b\")");
  CHECK(index.abort.at(0).sql == "DROP INDEX CONCURRENTLY \"public\".\"idx_a_b\"");

  const PhasePlan drop =
      sluice::plan_phases(spec_of({{"operation", "drop-column"}, {"column", "legacy"}}),
                          {"db", "t"}, ColumnFacts{"int(11)", false, std::nullopt},
                          sluice::server_family(Dialect::mysql).column_ddl());
  CHECK(drop.expand.empty());
  CHECK(drop.switch_steps.at(0).sql ==
        "ALTER TABLE `db`.`t` MODIFY `legacy` int(11) NULL, LOCK=NONE");
  CHECK(drop.contract.at(0).sql == "ALTER TABLE `db`.`t` DROP COLUMN `legacy`, LOCK=NONE");
  CHECK_FALSE(drop.mismatch);
}

TEST_CASE("names are quoted and a backfill must be a single expression") {
  const PhasePlan plan = sluice::plan_phases(spec_of({{"operation", "add-column"},
                                                      {"column", "we`ird\"; x"},
                                                      {"type", "int"},
                                                      {"backfill", "id * 2"}}),
                                             {"db", "t"}, std::nullopt,
                                             sluice::server_family(Dialect::mysql).column_ddl());
  CHECK(plan.expand.at(0).sql ==
        "ALTER TABLE `db`.`t` ADD COLUMN `we``ird\"; x` int NULL, LOCK=NONE");
  CHECK_THROWS_AS(sluice::plan_phases(spec_of({{"operation", "add-column"},
                                               {"column", "c"},
                                               {"type", "int"},
                                               {"backfill", "1; DROP TABLE t"}}),
                                      {"db", "t"}, std::nullopt,
                                      sluice::server_family(Dialect::mysql).column_ddl()),
                  sluice::Error);
  CHECK_THROWS_AS(sluice::plan_phases(spec_of({{"operation", "add-column"},
                                               {"column", "c"},
                                               {"type", "int"},
                                               {"backfill", "'unterminated"}}),
                                      {"db", "t"}, std::nullopt,
                                      sluice::server_family(Dialect::postgres).column_ddl()),
                  sluice::Error);
}

// SQL text of the PostgreSQL swap: renames, sequences, triggers, replica identity,
// publications, and the foreign keys and views re-created on the new table.
#include "src/postgres/pg_cut_over_sql.h"

#include <doctest/doctest.h>

using namespace sluice::postgres;

namespace {
const std::string kTable = "\"public\".\"t\"";
}  // namespace

TEST_CASE("renames keep the schema and quote the new name") {
  CHECK(rename_table(kTable, "_t_old") == "ALTER TABLE \"public\".\"t\" RENAME TO \"_t_old\"");
}

TEST_CASE("the shadow's indexes take the original names once each, the originals step aside") {
  const std::vector<std::string> statements =
      index_renames("app",
                    {{"t_pkey", "_t_new_pkey"},
                     {"t_k_idx", "_t_new_k_idx"},
                     {"t_k_idx2", "_t_new_k_idx"},  // an equal index: renamed once
                     {"same", "same"},
                     {"t_code_key", "t_code_uq"}},  // renamed by the ALTER: kept
                    "_old", {"t_code_uq"});
  CHECK(statements ==
        std::vector<std::string>{"ALTER INDEX \"app\".\"t_pkey\" RENAME TO \"_t_pkey_old\"",
                                 "ALTER INDEX \"app\".\"_t_new_pkey\" RENAME TO \"t_pkey\"",
                                 "ALTER INDEX \"app\".\"t_k_idx\" RENAME TO \"_t_k_idx_old\"",
                                 "ALTER INDEX \"app\".\"_t_new_k_idx\" RENAME TO \"t_k_idx\""});
}

TEST_CASE("a revert's shadow indexes, named as old indexes, are parked before the swap") {
  // The shadow is the old table a migration kept: its indexes carry the old suffix, the names
  // the live table's indexes are about to take.
  const std::vector<std::string> statements =
      index_renames("app", {{"t_pkey", "_t_pkey_old"}, {"t_k_idx", "_t_new_k_idx"}}, "_old", {});
  CHECK(statements ==
        std::vector<std::string>{
            "ALTER INDEX \"app\".\"_t_pkey_old\" RENAME TO \"__t_pkey_old_sluice_swap\"",
            "ALTER INDEX \"app\".\"t_pkey\" RENAME TO \"_t_pkey_old\"",
            "ALTER INDEX \"app\".\"__t_pkey_old_sluice_swap\" RENAME TO \"t_pkey\"",
            "ALTER INDEX \"app\".\"t_k_idx\" RENAME TO \"_t_k_idx_old\"",
            "ALTER INDEX \"app\".\"_t_new_k_idx\" RENAME TO \"t_k_idx\""});
}

TEST_CASE("a revert's identity sequence, named as the old one, is parked before the swap") {
  const SequenceMove move{
      "id", "public.t_id_seq", "t_id_seq", "public._t_id_seq_old", "_t_id_seq_old", "public"};
  CHECK(carry_sequence(move, kTable, "_old") ==
        std::vector<std::string>{
            "ALTER SEQUENCE public._t_id_seq_old RENAME TO \"__t_id_seq_old_sluice_swap\"",
            "ALTER SEQUENCE public.t_id_seq RENAME TO \"_t_id_seq_old\"",
            "ALTER SEQUENCE \"public\".\"__t_id_seq_old_sluice_swap\" RENAME TO \"t_id_seq\""});
}

TEST_CASE("an identity sequence continues and takes the old name; a serial changes owner") {
  const SequenceMove identity{
      "id", "public.t_id_seq", "t_id_seq", "public._t_new_id_seq", "_t_new_id_seq", "public"};
  CHECK(continue_sequence(identity) ==
        "SELECT setval($1::regclass, last_value, is_called) FROM public.t_id_seq");
  CHECK(carry_sequence(identity, kTable, "_old2") ==
        std::vector<std::string>{"ALTER SEQUENCE public.t_id_seq RENAME TO \"_t_id_seq_old2\"",
                                 "ALTER SEQUENCE public._t_new_id_seq RENAME TO \"t_id_seq\""});
  const SequenceMove serial{"n", "public.t_n_seq", "t_n_seq", std::nullopt, "", ""};
  CHECK(carry_sequence(serial, kTable, "_old2") ==
        std::vector<std::string>{"ALTER SEQUENCE public.t_n_seq OWNED BY \"public\".\"t\".\"n\""});
}

TEST_CASE("triggers are enabled as they were, disabled ones stay so") {
  CHECK(enable_trigger(kTable, {"audit", "O"}) ==
        "ALTER TABLE \"public\".\"t\" ENABLE TRIGGER audit");
  CHECK(enable_trigger(kTable, {"audit", "R"}) ==
        "ALTER TABLE \"public\".\"t\" ENABLE REPLICA TRIGGER audit");
  CHECK(enable_trigger(kTable, {"audit", "A"}) ==
        "ALTER TABLE \"public\".\"t\" ENABLE ALWAYS TRIGGER audit");
  CHECK(enable_trigger(kTable, {"audit", "D"}) == std::nullopt);
  CHECK(force_row_security(kTable) == "ALTER TABLE \"public\".\"t\" FORCE ROW LEVEL SECURITY");
}

TEST_CASE("the replica identity is set only when it is not the default") {
  CHECK(replica_identity(kTable, "d", std::nullopt) == std::nullopt);
  CHECK(replica_identity(kTable, "f", std::nullopt) ==
        "ALTER TABLE \"public\".\"t\" REPLICA IDENTITY FULL");
  CHECK(replica_identity(kTable, "n", std::nullopt) ==
        "ALTER TABLE \"public\".\"t\" REPLICA IDENTITY NOTHING");
  CHECK(replica_identity(kTable, "i", std::string("t_k_key")) ==
        "ALTER TABLE \"public\".\"t\" REPLICA IDENTITY USING INDEX t_k_key");
  CHECK(replica_identity(kTable, "i", std::nullopt) == std::nullopt);
}

TEST_CASE("publications move to the new table with their column list and row filter") {
  CHECK(move_publication("cdc", "\"public\".\"_t_old\"", kTable, std::nullopt, std::nullopt) ==
        std::vector<std::string>{"ALTER PUBLICATION cdc DROP TABLE \"public\".\"_t_old\"",
                                 "ALTER PUBLICATION cdc ADD TABLE \"public\".\"t\""});
  CHECK(move_publication("cdc", "\"public\".\"_t_old\"", kTable, std::string("id, k"),
                         std::string("k > 0"))
            .back() == "ALTER PUBLICATION cdc ADD TABLE \"public\".\"t\" (id, k) WHERE (k > 0)");
}

TEST_CASE("foreign keys are added NOT VALID and validated after only when they were valid") {
  bool validate = false;
  CHECK(not_valid("FOREIGN KEY (p) REFERENCES parent(id)", validate) ==
        "FOREIGN KEY (p) REFERENCES parent(id) NOT VALID");
  CHECK(validate);
  CHECK(not_valid("FOREIGN KEY (p) REFERENCES parent(id) NOT VALID", validate) ==
        "FOREIGN KEY (p) REFERENCES parent(id) NOT VALID");
  CHECK_FALSE(validate);
  CHECK(view_body(" SELECT t.id\n   FROM t; ") == " SELECT t.id\n   FROM t");
}

TEST_CASE("dependents are re-created on the new table, foreign keys dropped from the old") {
  Dependent key;
  key.kind = Dependent::Kind::foreign_key;
  key.table = kTable;
  key.old_table = "\"public\".\"_t_old\"";
  key.name = "t_p_fkey";
  key.definition = "FOREIGN KEY (p) REFERENCES parent(id) NOT VALID";
  Dependent view;
  view.kind = Dependent::Kind::view;
  view.name = "public.v";
  view.definition = " SELECT t.id FROM t";
  view.options = "security_barrier=true";
  Dependent plain_view = view;
  plain_view.options.clear();
  CHECK(recreate_dependents({key, view, plain_view}) ==
        std::vector<std::string>{
            "ALTER TABLE \"public\".\"_t_old\" DROP CONSTRAINT t_p_fkey",
            "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT t_p_fkey FOREIGN KEY (p) REFERENCES "
            "parent(id) NOT VALID",
            "CREATE OR REPLACE VIEW public.v WITH (security_barrier=true) AS  SELECT t.id FROM t",
            "CREATE OR REPLACE VIEW public.v AS  SELECT t.id FROM t"});
  CHECK(validate_constraint(key) == "ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT t_p_fkey");
}

TEST_CASE("the swap first keeps vacuum off both tables, then locks the table alone") {
  PgTablePlan plan;
  plan.table = {"public", "t"};
  plan.quoted_table = kTable;
  plan.quoted_shadow = "\"public\".\"_t_new\"";
  CHECK(swap_locks(plan, std::chrono::milliseconds(300)) ==
        std::vector<std::string>{
            "BEGIN", "SET LOCAL lock_timeout = '5000ms'",
            "LOCK TABLE \"public\".\"_t_new\", \"public\".\"t\" IN SHARE UPDATE EXCLUSIVE MODE",
            "SET LOCAL lock_timeout = '300ms'",
            "LOCK TABLE \"public\".\"t\" IN ACCESS EXCLUSIVE MODE"});
}

// SQL text that makes the PostgreSQL shadow table: what LIKE does not carry, triggers,
// policies, deferred indexes and each column's value in the new type.
#include "src/postgres/pg_shadow_sql.h"

#include <doctest/doctest.h>

using namespace sluice::postgres;

namespace {
const std::string kTable = "\"public\".\"t\"";
const std::string kShadow = "\"public\".\"_t_new\"";
}  // namespace

TEST_CASE("the shadow is made by LIKE and the user's clauses in one ALTER") {
  CHECK(create_like(kShadow, kTable) ==
        "CREATE TABLE \"public\".\"_t_new\" (LIKE \"public\".\"t\" INCLUDING ALL)");
  CHECK(alter_table(kShadow, {"ALTER COLUMN k TYPE bigint", "DROP COLUMN data"}) ==
        "ALTER TABLE \"public\".\"_t_new\" ALTER COLUMN k TYPE bigint, DROP COLUMN data");
}

TEST_CASE("a clause naming an index-backed constraint acts on the shadow's copy of it") {
  const std::map<std::string, std::string> names = {{"t_code_key", "_t_new_code_key"},
                                                    {"Odd Name", "_t_new_Odd Name"}};
  CHECK(retarget_constraint("DROP CONSTRAINT t_code_key", names) ==
        "DROP CONSTRAINT \"_t_new_code_key\"");
  CHECK(retarget_constraint("DROP CONSTRAINT IF EXISTS \"t_code_key\" CASCADE", names) ==
        "DROP CONSTRAINT IF EXISTS \"_t_new_code_key\" CASCADE");
  CHECK(retarget_constraint("drop constraint \"Odd Name\"", names) ==
        "drop constraint \"_t_new_Odd Name\"");
  CHECK(retarget_constraint("RENAME CONSTRAINT t_code_key TO t_code_uq", names) ==
        "RENAME CONSTRAINT \"_t_new_code_key\" TO t_code_uq");
  CHECK(retarget_constraint("ALTER CONSTRAINT t_code_key DEFERRABLE", names) ==
        "ALTER CONSTRAINT \"_t_new_code_key\" DEFERRABLE");
  // Bare names fold to lower case; a quoted upper-case name is another constraint.
  CHECK(retarget_constraint("DROP CONSTRAINT T_CODE_KEY", names) ==
        "DROP CONSTRAINT \"_t_new_code_key\"");
  CHECK(retarget_constraint("DROP CONSTRAINT \"T_CODE_KEY\"", names) ==
        "DROP CONSTRAINT \"T_CODE_KEY\"");
  // A CHECK constraint keeps its name under LIKE, and other clauses name no constraint.
  CHECK(retarget_constraint("DROP CONSTRAINT positive_amount", names) ==
        "DROP CONSTRAINT positive_amount");
  CHECK(retarget_constraint("DROP COLUMN t_code_key", names) == "DROP COLUMN t_code_key");
  CHECK(retarget_constraint("ADD CONSTRAINT t_code_key CHECK (code <> '')", names) ==
        "ADD CONSTRAINT t_code_key CHECK (code <> '')");
}

TEST_CASE("table facts LIKE leaves out are copied as statements") {
  CHECK(comment_on_table(kShadow, "it's") == "COMMENT ON TABLE \"public\".\"_t_new\" IS 'it''s'");
  CHECK(set_storage_parameters(kShadow, "fillfactor=70, autovacuum_enabled=false") ==
        "ALTER TABLE \"public\".\"_t_new\" SET (fillfactor=70, autovacuum_enabled=false)");
  CHECK(owner_to(kShadow, "App Owner") ==
        "ALTER TABLE \"public\".\"_t_new\" OWNER TO \"App Owner\"");
  CHECK(grant("SELECT", kShadow, "PUBLIC", false) ==
        "GRANT SELECT ON \"public\".\"_t_new\" TO PUBLIC");
  CHECK(grant("UPDATE", kShadow, "reporter", true) ==
        "GRANT UPDATE ON \"public\".\"_t_new\" TO reporter WITH GRANT OPTION");
  CHECK(enable_row_security(kShadow) ==
        "ALTER TABLE \"public\".\"_t_new\" ENABLE ROW LEVEL SECURITY");
}

TEST_CASE("a trigger is re-targeted at the shadow only where its definition names the table") {
  const std::string definition =
      "CREATE TRIGGER audit AFTER UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION log_it()";
  CHECK(retarget_trigger(definition, "public.t", kShadow) ==
        "CREATE TRIGGER audit AFTER UPDATE ON \"public\".\"_t_new\" FOR EACH ROW EXECUTE FUNCTION "
        "log_it()");
  CHECK(retarget_trigger(definition, "public.other", kShadow) == std::nullopt);
  CHECK(disable_user_triggers(kShadow) == "ALTER TABLE \"public\".\"_t_new\" DISABLE TRIGGER USER");
}

TEST_CASE("policies are re-created with their USING and WITH CHECK clauses when present") {
  PolicyDefinition all;
  all.name = "Own rows";
  CHECK(create_policy(kShadow, all) ==
        "CREATE POLICY \"Own rows\" ON \"public\".\"_t_new\" AS PERMISSIVE FOR ALL TO PUBLIC");
  PolicyDefinition restrictive{
      "p", "RESTRICTIVE", "UPDATE", "app, \"Admin\"", "(owner = CURRENT_USER)", "(amount > 0)"};
  CHECK(create_policy(kShadow, restrictive) ==
        "CREATE POLICY \"p\" ON \"public\".\"_t_new\" AS RESTRICTIVE FOR UPDATE TO app, \"Admin\" "
        "USING ((owner = CURRENT_USER)) WITH CHECK ((amount > 0))");
}

TEST_CASE("deferred indexes are dropped by name and re-created unnamed on the shadow") {
  CHECK(drop_index("\"public\".\"_t_new_k_idx\"") == "DROP INDEX \"public\".\"_t_new_k_idx\"");
  CHECK(create_index_on(kShadow, "USING btree (k)") ==
        "CREATE INDEX ON \"public\".\"_t_new\" USING btree (k)");
  CHECK(drop_constraint(kShadow, "\"_t_new_pkey\"") ==
        "ALTER TABLE \"public\".\"_t_new\" DROP CONSTRAINT \"_t_new_pkey\"");
  CHECK(add_constraint(kShadow, "\"_t_new_pkey\"", "PRIMARY KEY (id)") ==
        "ALTER TABLE \"public\".\"_t_new\" ADD CONSTRAINT \"_t_new_pkey\" PRIMARY KEY (id)");
  CHECK(drop_table(kShadow) == "DROP TABLE \"public\".\"_t_new\"");
  CHECK(drop_table_if_exists(kShadow) == "DROP TABLE IF EXISTS \"public\".\"_t_new\"");
}

TEST_CASE("a column's value is its USING expression, a cast, or the column itself") {
  CHECK(column_value("\"k\"", "integer", "integer", std::nullopt) == "\"k\"");
  CHECK(column_value("\"k\"", "integer", "bigint", std::nullopt) == "CAST(\"k\" AS bigint)");
  CHECK(column_value("\"doc\"", "text", "jsonb", std::string("doc::jsonb")) ==
        "CAST((doc::jsonb) AS jsonb)");
  // A USING expression applies even when the type stays: it may change the value.
  CHECK(column_value("\"n\"", "integer", "integer", std::string("n * 2")) ==
        "CAST((n * 2) AS integer)");
}

TEST_CASE("an added column's default is probed on an empty table the transaction rolls back") {
  CHECK(create_probe_table("\"public\".\"_t_probe\"") == "CREATE TABLE \"public\".\"_t_probe\" ()");
  CHECK(add_probe_column("\"public\".\"_t_probe\"", "timestamp with time zone", "now()") ==
        "ALTER TABLE \"public\".\"_t_probe\" ADD COLUMN sluice_default_probe timestamp with time "
        "zone DEFAULT now()");
  CHECK(probed_default("timestamp with time zone") ==
        "SELECT ((attmissingval::text)::timestamp with time zone[])[1]::text FROM pg_attribute "
        "WHERE attrelid = $1::regclass AND attname = 'sluice_default_probe' AND atthasmissing");
  CHECK(any_value(kShadow, "\"created\"") ==
        "SELECT \"created\"::text FROM \"public\".\"_t_new\" LIMIT 1");
  CHECK(added_defaults().find("a.attgenerated = ''") != std::string::npos);
  CHECK(added_defaults().find("a.attname <> ALL ($2::text[])") != std::string::npos);
}

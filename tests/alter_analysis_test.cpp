#include "ddl/alter_analysis.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ddl/ddl_error.h"
#include "ddl/sql_tokenizer.h"

using sluice::ddl::AlterAnalysis;
using sluice::ddl::analyze_alter;
using sluice::ddl::DdlError;
using sluice::ddl::Dialect;
using sluice::ddl::tokenize_sql;
using sluice::ddl::TokenKind;
using Names = std::vector<std::string>;

namespace {

AlterAnalysis my(std::string_view spec) {
  return analyze_alter(Dialect::mysql, spec);
}
AlterAnalysis pg(std::string_view spec) {
  return analyze_alter(Dialect::postgres, spec);
}

// The DdlError message `dialect` gives for `spec`; fails the test when nothing is thrown.
std::string refusal(Dialect dialect, std::string_view spec) {
  try {
    analyze_alter(dialect, spec);
  } catch (const DdlError& error) {
    return error.what();
  }
  FAIL("no DdlError for: " << spec);
  return "";
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// ---- tokenizer ----

TEST_CASE("the tokenizer keeps strings, quoted names and dollar quotes whole and drops comments") {
  const auto tokens = tokenize_sql(Dialect::mysql, "a 'x,''y\\\\' `b``c` -- c\n#d\n/* e */ 1.5e3");
  REQUIRE(tokens.size() == 4);
  CHECK(tokens[0].kind == TokenKind::word);
  CHECK(tokens[1].kind == TokenKind::string);
  CHECK(tokens[1].text == "'x,''y\\\\'");
  CHECK(tokens[2].kind == TokenKind::quoted_identifier);
  CHECK(tokens[3].kind == TokenKind::number);
  CHECK(tokens[3].text == "1.5e3");
  CHECK(tokens[3].space_before);

  const auto pg_tokens =
      tokenize_sql(Dialect::postgres, "$f$a;'b$f$ $$x$$ \"Q\"\"\" /* a /* b */ c */ z");
  REQUIRE(pg_tokens.size() == 4);
  CHECK(pg_tokens[0].text == "$f$a;'b$f$");
  CHECK(pg_tokens[1].text == "$$x$$");
  CHECK(pg_tokens[2].kind == TokenKind::quoted_identifier);
  CHECK(pg_tokens[3].text == "z");
}

TEST_CASE(
    "MySQL `--` is a comment only when followed by whitespace; PostgreSQL `#` is no comment") {
  CHECK(tokenize_sql(Dialect::mysql, "1--2").size() == 4);
  CHECK(tokenize_sql(Dialect::mysql, "1-- 2").size() == 1);
  CHECK(tokenize_sql(Dialect::postgres, "a # b").size() == 3);
}

TEST_CASE("unterminated strings, names, comments and dollar quotes are refused") {
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT DEFAULT 'abc"), "never closed"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN `x INT"), "quoted name"));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN \"x int"), "quoted name"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT /* DROP"), "*/"));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN x int /* /* */ DROP"), "*/"));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN x text DEFAULT $a$ b $b$"), "$a$"));
}

// ---- MySQL / MariaDB ----

TEST_CASE("MySQL ADD COLUMN forms add the column and are instant candidates") {
  const auto a = my("ADD COLUMN note TEXT");
  CHECK(a.added_columns == Names{"note"});
  CHECK(a.instant_candidate);
  CHECK(a.clauses == Names{"ADD COLUMN note TEXT"});

  CHECK(my("ADD note2 INT NOT NULL DEFAULT 0 FIRST").added_columns == Names{"note2"});
  CHECK(my("ADD COLUMN IF NOT EXISTS c INT AFTER b").added_columns == Names{"c"});
  CHECK(my("ADD IF NOT EXISTS c INT").added_columns == Names{"c"});
  const auto list = my("ADD COLUMN (a INT DEFAULT 1, b ENUM('x','y,z') NOT NULL)");
  CHECK(list.added_columns == Names{"a", "b"});
  CHECK(list.instant_candidate);
  CHECK(list.clauses.size() == 1);
  CHECK(my("ADD (c1 INT)").added_columns == Names{"c1"});
}

TEST_CASE(
    "MySQL ADD COLUMN with a key, AUTO_INCREMENT or a stored generated column is no instant "
    "candidate") {
  const auto unique = my("ADD COLUMN email VARCHAR(100) UNIQUE");
  CHECK(unique.adds_unique_key);
  CHECK_FALSE(unique.changes_primary_key);
  CHECK_FALSE(unique.instant_candidate);
  const auto pk = my("ADD COLUMN id INT AUTO_INCREMENT PRIMARY KEY");
  CHECK(pk.changes_primary_key);
  CHECK(pk.adds_unique_key);
  CHECK_FALSE(pk.instant_candidate);
  CHECK(my("ADD COLUMN id2 INT KEY").changes_primary_key);
  CHECK_FALSE(my("ADD COLUMN n INT AUTO_INCREMENT").instant_candidate);
  CHECK_FALSE(my("ADD COLUMN g INT AS (a + 1) STORED").instant_candidate);
  CHECK_FALSE(my("ADD COLUMN g INT AS (a + 1) PERSISTENT").instant_candidate);
  CHECK(my("ADD COLUMN g INT AS (a + 1) VIRTUAL").instant_candidate);
  CHECK_FALSE(my("ADD COLUMN c INT CHECK (c > 0)").instant_candidate);
  CHECK_FALSE(my("ADD COLUMN o INT REFERENCES orders (id)").instant_candidate);
}

TEST_CASE("MySQL commas inside strings, ENUM lists and function calls do not split clauses") {
  const auto a =
      my("ADD COLUMN s VARCHAR(10) DEFAULT 'a,b', ADD COLUMN e ENUM('x','y') DEFAULT 'x', "
         "ADD COLUMN d DECIMAL(10,2) DEFAULT (ROUND(1.234, 2)), ADD COLUMN q VARCHAR(5) DEFAULT "
         "\"c,d\"");
  CHECK(a.added_columns == Names{"s", "e", "d", "q"});
  CHECK(a.clauses.size() == 4);
  CHECK(a.clauses[2] == "ADD COLUMN d DECIMAL(10,2) DEFAULT (ROUND(1.234, 2))");
}

TEST_CASE("MySQL quoted names are returned unquoted") {
  const auto a =
      my("ADD COLUMN `we``ird` INT, ADD `semi;colon` INT, ADD COLUMN `first` INT, "
         "ADD `spa ce` INT, ADD `na\xc3\xafve_\xf0\x9f\x98\x80` INT, ADD Mixed INT, DROP `a,b`");
  CHECK(a.added_columns ==
        Names{"we`ird", "semi;colon", "first", "spa ce", "na\xc3\xafve_\xf0\x9f\x98\x80", "Mixed"});
  CHECK(a.dropped_columns == Names{"a,b"});
  CHECK(a.clauses[1] == "ADD `semi;colon` INT");
  CHECK(my("ADD COLUMN caf\xc3\xa9 INT").added_columns == Names{"caf\xc3\xa9"});
}

TEST_CASE("MySQL ADD INDEX / KEY / FULLTEXT / SPATIAL") {
  const auto a = my(
      "ADD INDEX idx_a (a), ADD KEY (b), ADD FULLTEXT INDEX ft (body), ADD SPATIAL KEY `sp` (g), "
      "ADD INDEX IF NOT EXISTS i2 USING BTREE (c), ADD KEY USING HASH (d), ADD FULLTEXT (t)");
  CHECK(a.added_indexes == Names{"idx_a", "", "ft", "sp", "i2", "", ""});
  CHECK_FALSE(a.adds_unique_key);
  CHECK_FALSE(a.instant_candidate);
  CHECK(a.added_columns.empty());
}

TEST_CASE("MySQL ADD constraints: primary key, unique, foreign key, check") {
  const auto pk = my("ADD PRIMARY KEY (id)");
  CHECK(pk.added_indexes == Names{"PRIMARY"});
  CHECK(pk.changes_primary_key);
  CHECK(pk.adds_unique_key);
  CHECK_FALSE(pk.instant_candidate);
  CHECK(my("ADD CONSTRAINT PRIMARY KEY (id)").changes_primary_key);
  CHECK(my("ADD CONSTRAINT pk PRIMARY KEY (id)").added_indexes == Names{"PRIMARY"});

  const auto unique =
      my("ADD UNIQUE (email), ADD UNIQUE KEY uk_a (a), ADD CONSTRAINT c1 UNIQUE (b), "
         "ADD CONSTRAINT c2 UNIQUE INDEX ix (c)");
  CHECK(unique.added_indexes == Names{"", "uk_a", "c1", "ix"});
  CHECK(unique.adds_unique_key);
  CHECK_FALSE(unique.changes_primary_key);

  const auto fk =
      my("ADD CONSTRAINT fk_o FOREIGN KEY (o) REFERENCES orders (id) ON DELETE CASCADE, "
         "ADD FOREIGN KEY fk_idx (p) REFERENCES p (id), ADD CONSTRAINT CHECK (a > 0), "
         "ADD CONSTRAINT `chk b` CHECK (b IN (1, 2))");
  CHECK(fk.added_indexes == Names{"fk_o", "fk_idx", "", "chk b"});
  CHECK_FALSE(fk.adds_unique_key);
  CHECK_FALSE(fk.instant_candidate);
}

TEST_CASE("MySQL DROP forms") {
  const auto a = my("DROP COLUMN legacy, DROP old2, DROP COLUMN IF EXISTS maybe, DROP `x``y`");
  CHECK(a.dropped_columns == Names{"legacy", "old2", "maybe", "x`y"});
  CHECK(a.instant_candidate);

  const auto idx =
      my("DROP INDEX idx_a, DROP KEY k, DROP FOREIGN KEY fk_o, DROP CONSTRAINT c1, "
         "DROP CHECK chk, DROP INDEX IF EXISTS gone");
  CHECK(idx.dropped_indexes == Names{"idx_a", "k", "fk_o", "c1", "chk", "gone"});
  CHECK(idx.dropped_columns.empty());
  CHECK_FALSE(idx.changes_primary_key);
  CHECK_FALSE(idx.instant_candidate);

  const auto pk = my("DROP PRIMARY KEY, ADD PRIMARY KEY (a, b)");
  CHECK(pk.dropped_indexes == Names{"PRIMARY"});
  CHECK(pk.changes_primary_key);
  CHECK(my("DROP INDEX `PRIMARY`").changes_primary_key);
}

TEST_CASE("MySQL MODIFY and CHANGE with the same name modify the column") {
  const auto a =
      my("MODIFY k BIGINT NOT NULL DEFAULT 0, MODIFY COLUMN `c` VARCHAR(200) AFTER a, "
         "CHANGE n n BIGINT, CHANGE COLUMN `m` m TEXT");
  CHECK(a.modified_columns == Names{"k", "c", "n", "m"});
  CHECK(a.added_columns.empty());
  CHECK_FALSE(a.instant_candidate);
  CHECK(my("MODIFY email VARCHAR(100) UNIQUE").adds_unique_key);
}

TEST_CASE("MySQL ALTER COLUMN SET/DROP DEFAULT and RENAME INDEX are instant candidates") {
  const auto a =
      my("ALTER COLUMN a SET DEFAULT 'x,y', ALTER b DROP DEFAULT, RENAME INDEX i1 TO i2, "
         "RENAME KEY `k 1` TO k2");
  CHECK(a.instant_candidate);
  CHECK(a.modified_columns.empty());
  CHECK(a.dropped_indexes == Names{"i1", "k 1"});
  CHECK(a.added_indexes == Names{"i2", "k2"});
  CHECK(my("ALTER COLUMN a SET DEFAULT (UUID())").instant_candidate);
}

TEST_CASE("an instant clause mixed with a copying one is no instant candidate") {
  CHECK_FALSE(my("ADD COLUMN a INT, MODIFY b BIGINT").instant_candidate);
  CHECK_FALSE(my("ADD COLUMN a INT, ADD INDEX (a)").instant_candidate);
  CHECK_FALSE(my("DROP COLUMN a, ENGINE=InnoDB").instant_candidate);
  CHECK(my("ADD COLUMN a INT, DROP COLUMN b, ALTER c SET DEFAULT 1").instant_candidate);
}

TEST_CASE("MySQL table options") {
  for (const char* spec :
       {"ENGINE=InnoDB", "ENGINE InnoDB", "DEFAULT CHARSET=utf8mb4", "CHARACTER SET = latin1",
        "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", "COLLATE=utf8mb4_unicode_ci",
        "CONVERT TO CHARACTER SET utf8mb4", "CONVERT TO CHARSET utf8mb4 COLLATE utf8mb4_bin",
        "COMMENT='a, b; c'", "COMMENT 'x'", "ROW_FORMAT=DYNAMIC", "AUTO_INCREMENT=1000",
        "KEY_BLOCK_SIZE=8", "FORCE", "ENGINE=InnoDB ROW_FORMAT=COMPRESSED"}) {
    CAPTURE(spec);
    const auto a = my(spec);
    CHECK(a.changes_table_options);
    CHECK_FALSE(a.instant_candidate);
    CHECK(a.added_columns.empty());
  }
  const auto mixed = my("ADD COLUMN a INT, ENGINE=InnoDB, COMMENT='t'");
  CHECK(mixed.clauses == Names{"ADD COLUMN a INT", "ENGINE=InnoDB", "COMMENT='t'"});
  CHECK_FALSE(my("ADD COLUMN a INT").changes_table_options);
}

TEST_CASE("MySQL column renames are refused with the expand-contract pointer") {
  const std::string change = refusal(Dialect::mysql, "CHANGE a b INT");
  CHECK(contains(change, "renaming column `a` to `b`"));
  CHECK(contains(change, "expand-contract"));
  CHECK(contains(change, "sluice plan"));
  CHECK(contains(refusal(Dialect::mysql, "CHANGE COLUMN `old` `New` INT"), "`old` to `New`"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT, RENAME COLUMN p TO q"),
                 "renaming column `p` to `q`"));
}

TEST_CASE("MySQL refusals name what is wrong") {
  CHECK(contains(refusal(Dialect::mysql, "RENAME TO t2"), "renames the table"));
  CHECK(contains(refusal(Dialect::mysql, "RENAME AS t2"), "renames the table"));
  CHECK(contains(refusal(Dialect::mysql, "RENAME t2"), "renames the table"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN a INT, ALGORITHM=INSTANT"),
                 "'ALGORITHM=INSTANT' chooses how"));
  CHECK(contains(refusal(Dialect::mysql, "LOCK=NONE"), "'LOCK=NONE'"));
  CHECK(contains(refusal(Dialect::mysql, "ENGINE=InnoDB ALGORITHM=COPY"), "sluice chooses"));
  for (const char* spec :
       {"PARTITION BY HASH(id) PARTITIONS 4", "ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))",
        "DROP PARTITION p0", "COALESCE PARTITION 2", "REMOVE PARTITIONING", "TRUNCATE PARTITION p1",
        "REORGANIZE PARTITION p0 INTO (PARTITION a VALUES LESS THAN (5))"}) {
    CAPTURE(spec);
    CHECK(contains(refusal(Dialect::mysql, spec), "changes partitioning"));
  }
  CHECK(contains(refusal(Dialect::mysql, "ORDER BY a"), "'ORDER BY a'"));
  CHECK(contains(refusal(Dialect::mysql, "DISCARD TABLESPACE"), "tablespace"));
  CHECK(contains(refusal(Dialect::mysql, "IMPORT TABLESPACE"), "tablespace"));
  CHECK(
      contains(refusal(Dialect::mysql, "FROB x"), "does not recognise the ALTER clause 'FROB x'"));
  CHECK(contains(refusal(Dialect::mysql, "ALTER INDEX i INVISIBLE"), "'ALTER INDEX i INVISIBLE'"));
  CHECK(contains(refusal(Dialect::mysql, "DROP COLUMN a b"), "'DROP COLUMN a b'"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x"), "gives column `x` no type"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN `` INT"), "empty quoted name"));
  CHECK(contains(refusal(Dialect::mysql, "ADD INDEX idx"), "'ADD INDEX idx'"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN (a INT,)"), "'ADD COLUMN (a INT,)'"));
  CHECK(contains(refusal(Dialect::mysql, "ADD SYSTEM VERSIONING"), "'ADD SYSTEM VERSIONING'"));
  CHECK(contains(refusal(Dialect::mysql, "DROP SYSTEM VERSIONING"), "'DROP SYSTEM VERSIONING'"));
  CHECK(contains(refusal(Dialect::mysql, "ADD PERIOD FOR p (s, e)"), "'ADD PERIOD FOR p (s, e)'"));
  CHECK(my("ADD COLUMN `system` INT").added_columns == Names{"system"});
  // Long clauses are shortened in messages, never in the middle of a UTF-8 character.
  const std::string long_clause = "FROB " + std::string(74, 'x') + "\xc3\xa4\xc3\xa4";
  const std::string message = refusal(Dialect::mysql, long_clause);
  CHECK(contains(message, "'FROB " + std::string(74, 'x') + "…'"));
}

TEST_CASE("empty specifications, empty clauses and unbalanced parentheses are refused") {
  CHECK(contains(refusal(Dialect::mysql, ""), "empty"));
  CHECK(contains(refusal(Dialect::mysql, "  -- nothing\n /* here */ "), "empty"));
  CHECK(contains(refusal(Dialect::postgres, ";"), "empty"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN a INT,"), "empty clause"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN a INT,, DROP b"), "empty clause"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN a DECIMAL(10,2"), "never closes"));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN a int DEFAULT (1))"), "never opened"));
}

TEST_CASE("injection attempts are refused or stay one clause") {
  const std::string second = "the ALTER contains a second statement after ';'";
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT; DROP TABLE t"), second));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT;DROP TABLE t"), second));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT; ;"), second));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN x int; DROP TABLE t; --"), second));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN x text DEFAULT $$a$$; DROP TABLE t"),
                 second));
  // A comment that hides the comma (or the ';') leaves text that is not a column definition.
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT -- ;\nDROP TABLE t"),
                 "contains DROP, which starts another clause"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT # ;\nDROP TABLE t"), "contains DROP"));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN x int /* ; */ DROP TABLE t"),
                 "contains DROP"));
  CHECK(contains(refusal(Dialect::mysql, "ALTER COLUMN x SET DEFAULT 1 -- ,\nDROP COLUMN y"),
                 "column `x` contains DROP"));
  CHECK(contains(refusal(Dialect::postgres, "ALTER x SET DEFAULT 1 /* , */ RENAME TO t"),
                 "column \"x\" contains RENAME"));
  CHECK(contains(refusal(Dialect::postgres, "ALTER x TYPE int -- ,\n DROP COLUMN y"),
                 "column \"x\" contains DROP"));
  CHECK(contains(refusal(Dialect::postgres, "ADD COLUMN U&\"d\\0061t\" int"), "Unicode escape"));
  CHECK(pg("ADD COLUMN u int DEFAULT 1, ALTER COLUMN u SET DEFAULT u & 1").added_columns ==
        Names{"u"});
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT /*!50000 ; DROP TABLE t */"),
                 "executable comment"));
  CHECK(contains(refusal(Dialect::mysql, "ADD COLUMN x INT /*M!100000 , DROP COLUMN y */"),
                 "executable comment"));
  CHECK(
      contains(refusal(Dialect::mysql, "ADD COLUMN x VARCHAR(9) DEFAULT 'a\\'; DROP TABLE t; -- '"),
               "NO_BACKSLASH_ESCAPES"));

  // Separators inside strings, quoted names and comments are data, not syntax.
  const auto a =
      my("ADD COLUMN x VARCHAR(9) DEFAULT 'a; DROP TABLE t', ADD `b; DROP TABLE t` INT;");
  CHECK(a.added_columns == Names{"x", "b; DROP TABLE t"});
  CHECK(a.clauses.size() == 2);
  const auto b = my("ADD COLUMN x INT /* ; DROP TABLE t */ NOT NULL -- , DROP COLUMN y\n");
  CHECK(b.clauses == Names{"ADD COLUMN x INT NOT NULL"});
  CHECK(b.dropped_columns.empty());
  const auto c = pg("ADD COLUMN x text DEFAULT $q$a'; DROP TABLE t; --$q$");
  CHECK(c.added_columns == Names{"x"});
  CHECK(c.clauses == Names{"ADD COLUMN x text DEFAULT $q$a'; DROP TABLE t; --$q$"});
}

TEST_CASE("clauses are normalised: comments gone, whitespace collapsed outside strings") {
  const auto a =
      my("  ADD   COLUMN\n\tnote /* why */ VARCHAR( 20 )  DEFAULT 'two  spaces' ,\n"
         "  DROP  `old   col`  -- bye\n;  -- trailing\n");
  CHECK(a.clauses ==
        Names{"ADD COLUMN note VARCHAR( 20 ) DEFAULT 'two  spaces'", "DROP `old   col`"});
  CHECK(a.dropped_columns == Names{"old   col"});
  CHECK(my("ADD COLUMN a/*x*/INT").clauses == Names{"ADD COLUMN a INT"});
  CHECK(pg("ALTER COLUMN a TYPE bigint USING a::bigint").clauses ==
        Names{"ALTER COLUMN a TYPE bigint USING a::bigint"});
}

// ---- PostgreSQL ----

TEST_CASE("PostgreSQL bare names fold to lower case, quoted names keep case") {
  const auto a =
      pg("ADD COLUMN Note text, ADD \"MixedCase\" int, ADD \"we\"\"ird;\" int, DROP OLD");
  CHECK(a.added_columns == Names{"note", "MixedCase", "we\"ird;"});
  CHECK(a.dropped_columns == Names{"old"});
  CHECK(a.clauses[0] == "ADD COLUMN Note text");
  CHECK(pg("ADD COLUMN \"caf\xc3\xa9\" text").added_columns == Names{"caf\xc3\xa9"});
}

TEST_CASE("PostgreSQL ADD COLUMN is instant only with a literal or NULL default") {
  CHECK(pg("ADD COLUMN a int").instant_candidate);
  CHECK(pg("ADD COLUMN IF NOT EXISTS a int").added_columns == Names{"a"});
  CHECK(pg("ADD a text DEFAULT 'x, y'").instant_candidate);
  CHECK(pg("ADD COLUMN a int DEFAULT 42").instant_candidate);
  CHECK(pg("ADD COLUMN a int DEFAULT -1 NOT NULL").instant_candidate);
  CHECK(pg("ADD COLUMN a int NOT NULL DEFAULT 0").instant_candidate);
  CHECK(pg("ADD COLUMN a boolean DEFAULT false").instant_candidate);
  CHECK(pg("ADD COLUMN a text DEFAULT NULL").instant_candidate);
  CHECK(pg("ADD COLUMN a text DEFAULT E'a\\'b'").instant_candidate);
  CHECK(pg("ADD COLUMN a numeric(10,2) DEFAULT 1.5 CONSTRAINT nn NOT NULL").instant_candidate);

  CHECK_FALSE(pg("ADD COLUMN a timestamptz DEFAULT now()").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a float8 DEFAULT random()").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a uuid DEFAULT gen_random_uuid()").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a int DEFAULT 1 + 1").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a text DEFAULT 'x'::text").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a int NOT NULL").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a int NOT NULL DEFAULT NULL").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a serial").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a bigint GENERATED ALWAYS AS IDENTITY").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a int GENERATED ALWAYS AS (b * 2) STORED").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a int CHECK (a > 0)").instant_candidate);
  CHECK_FALSE(pg("ADD COLUMN a int REFERENCES t (id)").instant_candidate);
  const auto unique = pg("ADD COLUMN a int UNIQUE");
  CHECK(unique.adds_unique_key);
  CHECK_FALSE(unique.instant_candidate);
  CHECK(pg("ADD COLUMN id bigint PRIMARY KEY").changes_primary_key);
}

TEST_CASE("PostgreSQL commas inside defaults, arrays and function calls do not split clauses") {
  const auto a =
      pg("ADD COLUMN a int[] DEFAULT ARRAY[1, 2], ADD COLUMN b text DEFAULT concat('x', "
         "'y'), ADD COLUMN c numeric(10, 2)");
  CHECK(a.added_columns == Names{"a", "b", "c"});
  CHECK(a.clauses.size() == 3);
}

TEST_CASE("PostgreSQL DROP COLUMN and DROP CONSTRAINT") {
  const auto a = pg("DROP COLUMN a, DROP b CASCADE, DROP COLUMN IF EXISTS c RESTRICT");
  CHECK(a.dropped_columns == Names{"a", "b", "c"});
  CHECK(a.instant_candidate);
  const auto c = pg("DROP CONSTRAINT orders_Pkey, DROP CONSTRAINT IF EXISTS \"Chk\" CASCADE");
  CHECK(c.dropped_indexes == Names{"orders_pkey", "Chk"});
  CHECK(c.dropped_columns.empty());
  CHECK_FALSE(c.instant_candidate);
}

TEST_CASE("PostgreSQL ALTER COLUMN forms") {
  const auto type =
      pg("ALTER COLUMN a TYPE bigint, ALTER b SET DATA TYPE text COLLATE \"C\", "
         "ALTER COLUMN c TYPE jsonb USING c::jsonb, ALTER d SET NOT NULL, "
         "ALTER COLUMN e DROP NOT NULL");
  CHECK(type.modified_columns == Names{"a", "b", "c", "d", "e"});
  CHECK_FALSE(type.instant_candidate);
  const auto defaults = pg("ALTER COLUMN a SET DEFAULT now(), ALTER b DROP DEFAULT");
  CHECK(defaults.instant_candidate);
  CHECK(defaults.modified_columns.empty());
  CHECK(contains(refusal(Dialect::postgres, "ALTER COLUMN a SET STATISTICS 100"),
                 "'ALTER COLUMN a SET STATISTICS 100'"));
  CHECK(contains(refusal(Dialect::postgres, "ALTER COLUMN a TYPE"), "no type"));
}

TEST_CASE("PostgreSQL ADD constraints") {
  const auto a = pg("ADD CONSTRAINT Orders_PK PRIMARY KEY (id)");
  CHECK(a.added_indexes == Names{"orders_pk"});
  CHECK(a.changes_primary_key);
  CHECK(a.adds_unique_key);
  const auto u = pg("ADD UNIQUE (email), ADD CONSTRAINT \"Uq\" UNIQUE USING INDEX uq_idx");
  CHECK(u.added_indexes == Names{"", "Uq"});
  CHECK(u.adds_unique_key);
  CHECK_FALSE(u.changes_primary_key);
  CHECK(pg("ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&)").adds_unique_key);
  const auto other = pg("ADD CONSTRAINT pos CHECK (a > 0), ADD FOREIGN KEY (o) REFERENCES o (id)");
  CHECK(other.added_indexes == Names{"pos", ""});
  CHECK_FALSE(other.adds_unique_key);
  CHECK_FALSE(other.instant_candidate);
}

TEST_CASE("PostgreSQL renames: constraints allowed, columns and tables refused") {
  const auto a = pg("RENAME CONSTRAINT Old_C TO \"New_C\"");
  CHECK(a.dropped_indexes == Names{"old_c"});
  CHECK(a.added_indexes == Names{"New_C"});
  CHECK(a.instant_candidate);
  const std::string column = refusal(Dialect::postgres, "RENAME COLUMN A TO b");
  CHECK(contains(column, "renaming column \"a\" to \"b\""));
  CHECK(contains(column, "expand-contract"));
  CHECK(
      contains(refusal(Dialect::postgres, "RENAME \"X\" TO y"), "renaming column \"X\" to \"y\""));
  CHECK(contains(refusal(Dialect::postgres, "RENAME TO orders2"), "renames the table"));
}

TEST_CASE("PostgreSQL table options") {
  for (const char* spec : {"SET (fillfactor = 70, autovacuum_enabled = false)",
                           "RESET (fillfactor)", "SET TABLESPACE fast", "SET LOGGED"}) {
    CAPTURE(spec);
    const auto a = pg(spec);
    CHECK(a.changes_table_options);
    CHECK_FALSE(a.instant_candidate);
  }
  CHECK(contains(refusal(Dialect::postgres, "SET UNLOGGED"), "unlogged"));
  CHECK(contains(refusal(Dialect::postgres, "SET SCHEMA other"), "another schema"));
  CHECK(contains(refusal(Dialect::postgres, "SET LOGGED now"), "'SET LOGGED now'"));
}

TEST_CASE("PostgreSQL clauses that make no sense for a rebuild are refused, each with a reason") {
  CHECK(contains(refusal(Dialect::postgres, "ATTACH PARTITION p FOR VALUES IN (1)"),
                 "changes partitioning"));
  CHECK(contains(refusal(Dialect::postgres, "DETACH PARTITION p"), "changes partitioning"));
  CHECK(contains(refusal(Dialect::postgres, "OWNER TO bob"), "'OWNER TO bob' only changes"));
  CHECK(contains(refusal(Dialect::postgres, "DISABLE TRIGGER ALL"), "triggers"));
  CHECK(contains(refusal(Dialect::postgres, "ENABLE RULE r"), "triggers or rules"));
  CHECK(contains(refusal(Dialect::postgres, "REPLICA IDENTITY FULL"), "replica identity"));
  CHECK(contains(refusal(Dialect::postgres, "CLUSTER ON idx"), "marks an index"));
  CHECK(contains(refusal(Dialect::postgres, "INHERIT parent"), "inheritance"));
  CHECK(contains(refusal(Dialect::postgres, "NO INHERIT parent"), "inheritance"));
  CHECK(contains(refusal(Dialect::postgres, "VALIDATE CONSTRAINT c"), "does not recognise"));
  CHECK(contains(refusal(Dialect::postgres, "MODIFY a bigint"), "'MODIFY a bigint'"));
}

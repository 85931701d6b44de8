#include "src/mysql/mysql_sql.h"

#include <doctest/doctest.h>

#include "src/error.h"

using namespace sluice;
using namespace sluice::mysql;
using replication::Value;
using replication::ValueKind;

namespace {

ColumnInfo column(const char* name, const char* data_type, const char* charset = "") {
  return ColumnInfo{name, data_type, data_type, charset, false, false};
}

TableSchema two_column_key() {
  TableSchema schema;
  schema.name = {"shop", "orders"};
  schema.columns = {column("tenant", "int"), column("id`x", "bigint"),
                    column("v", "varchar", "utf8mb4")};
  schema.key_columns = {0, 1};
  return schema;
}

Value num(const char* text) {
  return Value{ValueKind::number, text};
}

}  // namespace

TEST_CASE("character data travels as hex with the column's charset introducer") {
  CHECK(sql_literal({ValueKind::text, "it's \\ \xf0\x9f\x98\x80"},
                    column("v", "varchar", "utf8mb4")) == "_utf8mb4 X'69742773205C20F09F9880'");
  CHECK(sql_literal({ValueKind::text, ""}, column("v", "varchar", "latin1")) == "_latin1 X''");
  CHECK(sql_literal({ValueKind::binary, std::string("\x00\xff", 2)}, column("b", "blob")) ==
        "X'00FF'");
  CHECK(sql_literal({ValueKind::null, ""}, column("v", "varchar", "utf8mb4")) == "NULL");
}

TEST_CASE("numbers and temporal values are validated before they are spliced in") {
  CHECK(sql_literal(num("-0.001"), column("d", "decimal")) == "-0.001");
  CHECK(sql_literal({ValueKind::temporal, "2024-01-02 03:04:05.123"}, column("t", "datetime")) ==
        "'2024-01-02 03:04:05.123'");
  CHECK_THROWS_AS(sql_literal(num("1; DROP TABLE x"), column("d", "int")), Error);
  CHECK_THROWS_AS(sql_literal({ValueKind::temporal, "2024' OR '1"}, column("t", "date")), Error);
  CHECK_THROWS_AS(sql_literal({ValueKind::unchanged, ""}, column("t", "text")), Error);
}

TEST_CASE("composite key ranges expand so every branch is an index range") {
  const TableSchema schema = two_column_key();
  CHECK(key_after(schema, {num("3"), num("10")}) ==
        "((`tenant` > 3) OR (`tenant` = 3 AND `id``x` > 10))");
  CHECK(key_up_to(schema, {num("5"), num("7")}) ==
        "((`tenant` < 5) OR (`tenant` = 5 AND `id``x` <= 7))");
  CHECK(key_in(schema, {{num("1"), num("2")}, {num("3"), num("4")}}) ==
        "(`tenant`, `id``x`) IN ((1, 2), (3, 4))");
}

TEST_CASE("binary key columns are read through HEX() and decoded back exactly") {
  const ColumnInfo uuid = column("uuid", "binary");
  CHECK(key_select_expression(uuid) == "HEX(`uuid`)");
  CHECK(key_value_from_text(uuid, "00FF7A") ==
        Value{ValueKind::binary, std::string("\x00\xff\x7a", 3)});
  CHECK(key_value_from_text(column("id", "bigint"), "-5") == num("-5"));
}

TEST_CASE("character key columns are read through HEX(), in their own character set's bytes") {
  const ColumnInfo name = column("name", "varchar");
  CHECK(key_select_expression(name) == "HEX(`name`)");
  // latin1 'Ä' arrives as its one byte, whatever the connection's character set is.
  CHECK(key_value_from_text(name, "C4") == Value{ValueKind::text, "\xc4"});
}

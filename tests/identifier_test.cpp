#include "ddl/identifier.h"

#include <doctest/doctest.h>

#include "ddl/ddl_error.h"

using sluice::ddl::DdlError;
using sluice::ddl::Dialect;
using sluice::ddl::parse_qualified_name;
using sluice::ddl::QualifiedName;
using sluice::ddl::quote_identifier;
using sluice::ddl::quote_qualified;

TEST_CASE("MySQL identifiers are wrapped in backticks with embedded backticks doubled") {
  CHECK(quote_identifier(Dialect::mysql, "orders") == "`orders`");
  CHECK(quote_identifier(Dialect::mysql, "we`ird") == "`we``ird`");
  CHECK(quote_identifier(Dialect::mysql, "``") == "``````");
  CHECK(quote_identifier(Dialect::mysql, "a\"b'c") == "`a\"b'c`");
  CHECK(quote_identifier(Dialect::mysql, "drop; table x") == "`drop; table x`");
  CHECK(quote_identifier(Dialect::mysql, "bestellungen_\xc3\xa4\xf0\x9f\x98\x80") ==
        "`bestellungen_\xc3\xa4\xf0\x9f\x98\x80`");
}

TEST_CASE("PostgreSQL identifiers are wrapped in double quotes with embedded quotes doubled") {
  CHECK(quote_identifier(Dialect::postgres, "Orders") == "\"Orders\"");
  CHECK(quote_identifier(Dialect::postgres, "a\"b") == "\"a\"\"b\"");
  CHECK(quote_identifier(Dialect::postgres, "it's `x`") == "\"it's `x`\"");
  CHECK(quote_identifier(Dialect::postgres, "with space") == "\"with space\"");
}

TEST_CASE("empty identifiers and NUL bytes are refused") {
  CHECK_THROWS_AS(quote_identifier(Dialect::mysql, ""), DdlError);
  CHECK_THROWS_AS(quote_identifier(Dialect::postgres, std::string_view("a\0b", 3)), DdlError);
}

TEST_CASE("qualified names quote each part") {
  CHECK(quote_qualified(Dialect::mysql, {"shop", "order`s"}) == "`shop`.`order``s`");
  CHECK(quote_qualified(Dialect::postgres, {"public", "Orders"}) == "\"public\".\"Orders\"");
}

TEST_CASE("bare names take the default schema; PostgreSQL folds bare names to lower case") {
  CHECK(parse_qualified_name(Dialect::mysql, "Orders", "shop") == QualifiedName{"shop", "Orders"});
  CHECK(parse_qualified_name(Dialect::postgres, "Orders", "public") ==
        QualifiedName{"public", "orders"});
  CHECK(parse_qualified_name(Dialect::postgres, "Sales.Orders", "public") ==
        QualifiedName{"sales", "orders"});
}

TEST_CASE("quoted parts keep dots, quotes, spaces and case") {
  CHECK(parse_qualified_name(Dialect::mysql, "`my.db`.`we``ird name`", "") ==
        QualifiedName{"my.db", "we`ird name"});
  CHECK(parse_qualified_name(Dialect::postgres, "\"Sales\".\"Order \"\"Lines\"\"\"", "public") ==
        QualifiedName{"Sales", "Order \"Lines\""});
  CHECK(parse_qualified_name(Dialect::postgres, "\"tabl\xc3\xa9;--\"", "public") ==
        QualifiedName{"public", "tabl\xc3\xa9;--"});
}

TEST_CASE("malformed names are refused with DdlError") {
  CHECK_THROWS_AS(parse_qualified_name(Dialect::mysql, "", "db"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::mysql, "`unclosed", "db"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::mysql, "a.b.c", "db"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::mysql, "a..b", "db"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::mysql, "a.", "db"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::postgres, "\"a\"x", "public"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::postgres, "a\"b\"", "public"), DdlError);
  CHECK_THROWS_AS(parse_qualified_name(Dialect::postgres, "\"\"", "public"), DdlError);
}

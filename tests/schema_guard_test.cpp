// A rebuild stops on a change the copy cannot follow (src/schema_guard.h).
#include "src/schema_guard.h"

#include <doctest/doctest.h>

#include <memory>

#include "src/error.h"

using namespace sluice;
using replication::ChangeEvent;
using replication::Operation;
using replication::Transaction;

namespace {

std::shared_ptr<replication::TableDescription> described(std::vector<std::string> names) {
  auto table = std::make_shared<replication::TableDescription>();
  table->schema = "shop";
  table->table = "orders";
  for (std::string& name : names) {
    table->columns.push_back({std::move(name), "int"});
  }
  return table;
}

Transaction one(ChangeEvent change) {
  Transaction transaction;
  transaction.changes.push_back(std::move(change));
  return transaction;
}

ExitCode code_of(SchemaGuard& guard, const Transaction& transaction) {
  try {
    guard.check(transaction);
  } catch (const Error& error) {
    return error.code();
  }
  return ExitCode::ok;
}

ExitCode code_of(const Transaction& transaction) {
  SchemaGuard guard({"id", "k"});
  return code_of(guard, transaction);
}

}  // namespace

TEST_CASE("row changes under the planned columns pass; unnamed columns are not compared") {
  ChangeEvent change;
  change.table = described({"id", "k"});
  CHECK(code_of(one(change)) == ExitCode::ok);
  change.table = described({"", "", ""});
  CHECK(code_of(one(change)) == ExitCode::ok);
  CHECK(code_of(Transaction{}) == ExitCode::ok);
}

TEST_CASE("a truncate, a schema change and changed columns stop the run with exit code 6") {
  ChangeEvent truncate;
  truncate.table = described({"id", "k"});
  truncate.operation = Operation::truncate;
  CHECK(code_of(one(truncate)) == ExitCode::stream);

  ChangeEvent ddl;
  ddl.table = described({});
  ddl.operation = Operation::schema_change;
  ddl.statement = "ALTER TABLE orders ADD sneaky INT";
  CHECK(code_of(one(ddl)) == ExitCode::stream);
  try {
    SchemaGuard({"id", "k"}).check(one(ddl));
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK(message.find("ALTER TABLE orders ADD sneaky INT") != std::string::npos);
    CHECK(message.find("original table is untouched") != std::string::npos);
  }

  for (const std::vector<std::string>& columns :
       std::vector<std::vector<std::string>>{{"id", "k", "sneaky"}, {"id"}, {"id", "k2"}}) {
    ChangeEvent change;
    change.table = described(columns);
    CHECK(code_of(one(change)) == ExitCode::stream);
  }
}

TEST_CASE("a column retyped under the same name stops the run; an equal description passes") {
  SchemaGuard guard({"id", "k"});
  ChangeEvent change;
  change.table = described({"id", "k"});
  CHECK(code_of(guard, one(change)) == ExitCode::ok);
  change.table = described({"id", "k"});  // a new description with the same columns
  CHECK(code_of(guard, one(change)) == ExitCode::ok);
  auto retyped = std::make_shared<replication::TableDescription>(*described({"id", "k"}));
  retyped->columns[1].type = "int8";
  change.table = retyped;
  CHECK(code_of(guard, one(change)) == ExitCode::stream);
}

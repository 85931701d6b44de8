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

ExitCode code_of(const Transaction& transaction) {
  try {
    refuse_schema_changes(transaction, {"id", "k"});
  } catch (const Error& error) {
    return error.code();
  }
  return ExitCode::ok;
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
    refuse_schema_changes(one(ddl), {"id", "k"});
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

#include "src/migration_spec.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>

#include "src/error.h"

using sluice::MigrationSpec;
using sluice::Operation;

namespace {

// A migration file in a fresh temporary directory, removed with it.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text) {
    directory_ = std::filesystem::temp_directory_path() /
                 ("sluice-spec-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::create_directories(directory_);
    path_ = directory_ / name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove_all(directory_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path directory_;
  std::filesystem::path path_;
};

sluice::ExitCode code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const sluice::Error& error) {
    return error.code();
  }
  return sluice::ExitCode::ok;
}

}  // namespace

TEST_CASE("an INI migration file names its operation and parameters") {
  const TempFile file("20261124_rename.ini",
                      "# rename the e-mail column\n"
                      "table = shop.customers\n"
                      "operation = rename-column\n"
                      "column = email\n"
                      "new-column = email_address\n"
                      "; a day between switch and contract\n"
                      "grace = 24h\n"
                      "old-clients = application_name LIKE 'shop-v41%'\n");
  const MigrationSpec spec = sluice::load_migration_file(file.path());
  CHECK(spec.name == "20261124_rename");  // the file's stem when no name is given
  CHECK(spec.table == "shop.customers");
  CHECK(spec.operation == Operation::rename_column);
  CHECK(spec.column == "email");
  CHECK(spec.new_column == "email_address");
  CHECK(spec.grace_seconds == 86400);
  CHECK(spec.old_clients == "application_name LIKE 'shop-v41%'");
  CHECK(spec.has_backfill());
  CHECK(spec.target_column() == "email_address");
}

TEST_CASE("a JSON migration file reads the same keys, arrays and booleans included") {
  const TempFile file("idx.json",
                      R"({"name": "orders-by-customer", "table": "orders",
                          "operation": "add-index", "index-columns": ["customer_id", "created"],
                          "unique": false, "grace": 90})");
  const MigrationSpec spec = sluice::load_migration_file(file.path());
  CHECK(spec.name == "orders-by-customer");
  CHECK(spec.operation == Operation::add_index);
  CHECK(spec.index_columns == std::vector<std::string>{"customer_id", "created"});
  CHECK(spec.index_name == "idx_customer_id_created");
  CHECK_FALSE(spec.unique);
  CHECK(spec.grace_seconds == 90);
  CHECK_FALSE(spec.has_backfill());
}

TEST_CASE("change-type defaults its new column; its spec survives the metadata's JSON") {
  const MigrationSpec spec = sluice::spec_from_settings({{"name", "amount"},
                                                         {"table", "orders"},
                                                         {"operation", "change-type"},
                                                         {"column", "amount"},
                                                         {"type", "numeric(12,2)"},
                                                         {"grace", "15m"}},
                                                        "test");
  CHECK(spec.new_column == "amount_new");
  const std::string json = spec.to_json();
  CHECK(sluice::is_phased_spec(json));
  CHECK(MigrationSpec::from_json(json).to_json() == json);
  CHECK_FALSE(sluice::is_phased_spec(R"({"table": "t", "alter": "ADD COLUMN x INT"})"));
}

TEST_CASE("bad migration files are refused with a usage error naming the problem") {
  using sluice::ExitCode;
  const auto load = [](const std::string& name, const std::string& text) {
    return code_of([&] {
      const TempFile file(name, text);
      sluice::load_migration_file(file.path());
    });
  };
  CHECK(load("a.ini", "table = t\noperation = rename-column\ncolumn = a\n") == ExitCode::usage);
  CHECK(load("b.ini", "table = t\noperation = teleport\n") == ExitCode::usage);
  CHECK(load("c.ini", "table = t\noperation = drop-column\ncolumn = a\ntype = int\n") ==
        ExitCode::usage);  // a key the operation does not take
  CHECK(load("d.ini", "table = t\noperation = drop-column\ncolumn = a\ncolumn = b\n") ==
        ExitCode::usage);  // set twice
  CHECK(load("e.ini", "table = t\noperation = drop-column\njust words\n") == ExitCode::usage);
  CHECK(load("f.json", "{\"table\": ") == ExitCode::usage);
  CHECK(load("g.ini", "table = t\noperation = rename-column\ncolumn = a\nnew-column = a\n") ==
        ExitCode::usage);
  CHECK(code_of([] { sluice::load_migration_file("/nonexistent/x.ini"); }) ==
        ExitCode::not_found);
}

TEST_CASE("durations take seconds or a unit") {
  CHECK(sluice::parse_duration("90") == 90);
  CHECK(sluice::parse_duration("90s") == 90);
  CHECK(sluice::parse_duration("15m") == 900);
  CHECK(sluice::parse_duration("24h") == 86400);
  CHECK(sluice::parse_duration("7d") == 604800);
  CHECK_THROWS_AS(sluice::parse_duration("soon"), sluice::Error);
  CHECK_THROWS_AS(sluice::parse_duration("5w"), sluice::Error);
  CHECK_THROWS_AS(sluice::parse_duration("-5"), sluice::Error);
}

#include "src/migration_spec.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "src/error.h"
#include "tests/doc_examples.h"

using sluice::MigrationOperation;
using sluice::MigrationSpec;

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
  CHECK(spec.operation == MigrationOperation::rename_column);
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
  CHECK(spec.operation == MigrationOperation::add_index);
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
  CHECK(code_of([] { sluice::load_migration_file("/nonexistent/x.ini"); }) == ExitCode::not_found);
}

TEST_CASE("a comment after a value starts at a space or tab before '#' or ';', outside quotes") {
  const TempFile file("inline.ini",
                      "table = customers   # name or schema.name\n"
                      "operation = add-column\t; add-column takes a type\n"
                      "column = label\n"
                      "type = varchar(20)\n"
                      "backfill = CONCAT(first, ' # ', last, \"; \", `a #b`)  # joined names\n"
                      "grace = 24h    # seconds, or with s, m, h, d\n"
                      "old-clients = application_name LIKE 'v41#%';\n");
  const MigrationSpec spec = sluice::load_migration_file(file.path());
  CHECK(spec.table == "customers");
  CHECK(spec.operation == MigrationOperation::add_column);
  CHECK(spec.backfill == "CONCAT(first, ' # ', last, \"; \", `a #b`)");
  CHECK(spec.grace_seconds == 86400);
  // No space before it: part of the value.
  CHECK(spec.old_clients == "application_name LIKE 'v41#%';");
}

TEST_CASE("a JSON migration file that sets a key twice is refused") {
  const TempFile file("twice.json",
                      R"({"table": "t", "operation": "add-column", "column": "z1",
                          "type": "int", "column": "z2"})");
  CHECK(code_of([&] { sluice::load_migration_file(file.path()); }) == sluice::ExitCode::usage);
  try {
    sluice::load_migration_file(file.path());
  } catch (const sluice::Error& error) {
    CHECK(std::string(error.what()) == "twice.json: 'column' is set twice; keep one of its values");
  }
}

TEST_CASE("every migration-file example in README.md and docs/migrations.md parses") {
  std::vector<sluice::test::DocExample> examples;
  for (const char* doc : {"README.md", "docs/migrations.md"}) {
    for (auto& example : sluice::test::migration_examples(SLUICE_SOURCE_DIR, doc)) {
      examples.push_back(std::move(example));
    }
  }
  REQUIRE(examples.size() >= 3);
  for (const sluice::test::DocExample& example : examples) {
    INFO(example.where << "\n" << example.text);
    const TempFile file("example." + example.language, example.text);
    MigrationSpec spec;
    REQUIRE_NOTHROW(spec = sluice::load_migration_file(file.path()));
    // Every value is the documented one, no comment glued to it.
    CHECK(spec.table.find('#') == std::string::npos);
    CHECK(spec.table.find(' ') == std::string::npos);
    CHECK(spec.grace_seconds > 0);
  }
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

TEST_CASE("dual-write-clients and switch-after gate the switch and survive the phase metadata") {
  const TempFile file("gated.ini",
                      "table = customers\n"
                      "operation = rename-column\n"
                      "column = email\n"
                      "new-column = mail\n"
                      "dual-write-clients = application_name LIKE 'shop-v42%'\n"
                      "switch-after = 2h\n");
  const MigrationSpec spec = sluice::load_migration_file(file.path());
  CHECK(spec.dual_write_clients == "application_name LIKE 'shop-v42%'");
  REQUIRE(spec.switch_after_seconds.has_value());
  CHECK(*spec.switch_after_seconds == 7200);
  CHECK(spec.switch_needs_release());
  const MigrationSpec recorded = MigrationSpec::from_json(spec.to_json());
  CHECK(recorded.dual_write_clients == spec.dual_write_clients);
  CHECK(recorded.switch_after_seconds == spec.switch_after_seconds);
  CHECK(recorded.to_json() == spec.to_json());

  const TempFile plain("plain.ini", "table = t\noperation = add-index\nindex-columns = a\n");
  const MigrationSpec index = sluice::load_migration_file(plain.path());
  CHECK_FALSE(index.switch_after_seconds.has_value());
  CHECK_FALSE(index.switch_needs_release());
  CHECK(index.to_json().find("switch-after") == std::string::npos);

  const TempFile bad("bad.ini",
                     "table = t\noperation = drop-column\ncolumn = c\n"
                     "switch-after = soon\n");
  CHECK_THROWS_AS(sluice::load_migration_file(bad.path()), sluice::Error);
}

#include "src/archive.h"

#include <doctest/doctest.h>
#include <unistd.h>
#include <zstd.h>

#include <fstream>

#include "src/error.h"

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("sluice-archive-" + std::to_string(::getpid()) + "-" + name);
}

sluice::ArchiveHeader header() {
  sluice::ArchiveHeader header;
  header.migration = "rename-email";
  header.dialect = "postgres";
  header.table = {"public", "customers"};
  header.key = {"id", "region"};
  header.encoding = "text";
  header.column = "email";
  header.type = "text";
  return header;
}

sluice::ArchiveHeader table_header() {
  sluice::ArchiveHeader header;
  header.kind = sluice::ArchiveKind::table;
  header.migration = "orders-rebuild";
  header.dialect = "mysql";
  header.table = {"shop", "_orders_old"};
  header.key = {"id"};
  header.encoding = "hex";
  header.columns = {{"id", "bigint(20)", false, false},
                    {"note", "varchar(20) CHARACTER SET utf8mb4", true, false},
                    {"twice", "bigint(20)", true, true}};
  header.definition =
      "(\n  `id` bigint(20) NOT NULL,\n  `note` varchar(20) DEFAULT NULL,\n  `twice` bigint(20) "
      "GENERATED ALWAYS AS (`id` * 2) VIRTUAL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
  return header;
}

// Writes `lines` as a zstd-compressed file, as an archive written by hand.
void write_compressed(const std::filesystem::path& path, const std::string& lines) {
  std::string compressed(ZSTD_compressBound(lines.size()), '\0');
  compressed.resize(
      ZSTD_compress(compressed.data(), compressed.size(), lines.data(), lines.size(), 3));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << compressed;
}

}  // namespace

TEST_CASE("an archive gives back its header and every row, NULLs and unicode included") {
  const std::filesystem::path path = temp_path("round.zst");
  std::filesystem::remove(path);
  {
    sluice::ArchiveWriter writer(path, header());
    writer.add({"1", "eu", "a@example.com"});
    writer.add({"2", "us", std::nullopt});
    writer.add({"3", "eu", "\xc3\xa4\"quoted\"\n\\"});
    CHECK_FALSE(std::filesystem::exists(path));  // only after finish()
    writer.finish();
  }
  sluice::check_archive(path, 3);
  sluice::ArchiveReader reader(path);
  CHECK(reader.header().kind == sluice::ArchiveKind::column);
  CHECK(reader.header().column == "email");
  CHECK(reader.header().key == std::vector<std::string>{"id", "region"});
  CHECK(reader.header().table.name == "customers");
  CHECK(reader.next() == sluice::ArchivedRow{"1", "eu", "a@example.com"});
  CHECK(reader.next() == sluice::ArchivedRow{"2", "us", std::nullopt});
  CHECK(reader.next() == sluice::ArchivedRow{"3", "eu", "\xc3\xa4\"quoted\"\n\\"});
  CHECK_FALSE(reader.next());
  CHECK_THROWS_AS(sluice::check_archive(path, 4), sluice::Error);
  CHECK_THROWS_AS(sluice::ArchiveWriter(path, header()), sluice::Error);  // never overwritten
  std::filesystem::remove(path);
}

TEST_CASE("a table archive carries the table's name, columns, key and definition") {
  const std::filesystem::path path = temp_path("table.zst");
  std::filesystem::remove(path);
  {
    sluice::ArchiveWriter writer(path, table_header());
    writer.add({"31", "C3A4E29883", "3632"});
    writer.add({"32", std::nullopt, "3634"});
    CHECK_THROWS_AS(writer.add({"33", "41"}), sluice::Error);  // one value short
    writer.finish();
  }
  sluice::check_archive(path, 2);
  sluice::ArchiveReader reader(path);
  const sluice::ArchiveHeader& read = reader.header();
  CHECK(read.kind == sluice::ArchiveKind::table);
  CHECK(read.dialect == "mysql");
  CHECK(read.encoding == "hex");
  CHECK(read.table.schema == "shop");
  CHECK(read.table.name == "_orders_old");
  CHECK(read.key == std::vector<std::string>{"id"});
  REQUIRE(read.columns.size() == 3);
  CHECK(read.columns[0].name == "id");
  CHECK(read.columns[0].type == "bigint(20)");
  CHECK_FALSE(read.columns[0].nullable);
  CHECK(read.columns[1].type == "varchar(20) CHARACTER SET utf8mb4");
  CHECK(read.columns[1].nullable);
  CHECK(read.columns[2].generated);
  CHECK(read.definition == table_header().definition);
  CHECK(read.row_width() == 3);
  CHECK(reader.next() == sluice::ArchivedRow{"31", "C3A4E29883", "3632"});
  CHECK(reader.next() == sluice::ArchivedRow{"32", std::nullopt, "3634"});
  CHECK_FALSE(reader.next());
  std::filesystem::remove(path);
}

TEST_CASE("a version 1 column archive still reads") {
  const std::filesystem::path path = temp_path("v1.zst");
  write_compressed(path, R"json({"format":"sluice-archive","version":1,"migration":"m",)json"
                         R"json("dialect":"mysql","schema":"shop","table":"t","key":["id"],)json"
                         R"json("column":"c","type":"int(11)","encoding":"hex"})json"
                         "\n[\"1\",\"3432\"]\n[\"2\",null]\n{\"rows\":2}\n");
  sluice::check_archive(path, 2);
  sluice::ArchiveReader reader(path);
  CHECK(reader.header().kind == sluice::ArchiveKind::column);
  CHECK(reader.header().column == "c");
  CHECK(reader.header().type == "int(11)");
  CHECK(reader.next() == sluice::ArchivedRow{"1", "3432"});
  CHECK(reader.next() == sluice::ArchivedRow{"2", std::nullopt});
  CHECK_FALSE(reader.next());
  std::filesystem::remove(path);
}

TEST_CASE("a table archive with a row of the wrong width, or an unknown kind, is refused") {
  const std::filesystem::path path = temp_path("bad-table.zst");
  const std::string table_start =
      R"json({"format":"sluice-archive","version":2,"kind":"table","migration":"m",)json"
      R"json("dialect":"postgres","schema":"public","table":"t","key":["id"],)json"
      R"json("encoding":"text","columns":[)json"
      R"json({"name":"id","type":"bigint","nullable":false,"generated":false},)json"
      R"json({"name":"v","type":"text","nullable":true,"generated":false}],)json"
      R"json("definition":"(id bigint NOT NULL, v text, PRIMARY KEY (id))"})json";
  write_compressed(path, table_start + "\n[\"1\",\"a\"]\n[\"2\"]\n{\"rows\":2}\n");
  CHECK_THROWS_AS(sluice::check_archive(path, 2), sluice::Error);
  write_compressed(path, table_start + "\n[\"1\",\"a\"]\n{\"rows\":1}\n");
  sluice::check_archive(path, 1);
  write_compressed(
      path, R"json({"format":"sluice-archive","version":2,"kind":"view","migration":"m",)json"
            R"json("dialect":"postgres","schema":"public","table":"t","key":["id"],)json"
            R"json("encoding":"text"})json"
            "\n{\"rows\":0}\n");
  CHECK_THROWS_AS(sluice::ArchiveReader{path}, sluice::Error);
  write_compressed(path, R"json({"format":"sluice-archive","version":3,"kind":"table"})json"
                         "\n{\"rows\":0}\n");
  CHECK_THROWS_AS(sluice::ArchiveReader{path}, sluice::Error);
  std::filesystem::remove(path);
}

TEST_CASE("a truncated or foreign archive is refused") {
  const std::filesystem::path path = temp_path("cut.zst");
  std::filesystem::remove(path);
  {
    sluice::ArchiveWriter writer(path, header());
    for (int i = 0; i < 5000; ++i) {
      writer.add({std::to_string(i), "eu", "row " + std::to_string(i)});
    }
    writer.finish();
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  CHECK_THROWS_AS(sluice::check_archive(path, 5000), sluice::Error);
  std::ofstream(path, std::ios::trunc) << "not an archive";
  CHECK_THROWS_AS(sluice::ArchiveReader{path}, sluice::Error);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(sluice::ArchiveReader{path}, sluice::Error);
}

TEST_CASE("an unfinished archive leaves no file behind") {
  const std::filesystem::path path = temp_path("unfinished.zst");
  {
    sluice::ArchiveWriter writer(path, header());
    writer.add({"1", "eu", "x"});
  }
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path.string() + ".partial"));
}

#include "src/archive.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "src/error.h"

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("sluice-archive-" + std::to_string(::getpid()) + "-" + name);
}

sluice::ArchiveHeader header() {
  return {"rename-email", "postgres", {"public", "customers"}, {"id", "region"},
          "email", "text", "text"};
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

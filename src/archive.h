#pragma once

#include <zstd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "src/column_backend.h"

namespace sluice {

// What an archive holds: one column of one table, with the key to put it back by.
struct ArchiveHeader {
  std::string migration;
  std::string dialect;  // "mysql" or "postgres"
  ddl::QualifiedName table;
  std::vector<std::string> key;
  std::string column;
  std::string type;      // the column's SQL type, to re-create it
  std::string encoding;  // how values are written: "hex" (MySQL: bytes) or "text" (PostgreSQL)
};

// Writes an archive: zstd-compressed JSON lines, a header object, one array per row (key
// values, then the column's value or null) and a trailer object with the row count. The file
// appears under its name only when finish() succeeded; until then it is `<path>.partial`.
class ArchiveWriter {
 public:
  // Throws Error(ExitCode::usage) when the file exists or cannot be created.
  ArchiveWriter(std::filesystem::path path, const ArchiveHeader& header);
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  void add(const ArchivedRow& row);
  // Writes the trailer, flushes and renames the file into place.
  void finish();
  std::uint64_t rows() const { return rows_; }

 private:
  void write_line(const nlohmann::json& line);
  void compress(const std::string& data, ZSTD_EndDirective mode);

  std::filesystem::path path_;
  std::filesystem::path partial_;
  std::ofstream out_;
  ZSTD_CCtx* context_ = nullptr;
  std::uint64_t rows_ = 0;
  bool finished_ = false;
};

// Reads an archive back. Throws Error(ExitCode::usage) naming the problem for a file that is
// not a sluice archive, is truncated or damaged.
class ArchiveReader {
 public:
  explicit ArchiveReader(const std::filesystem::path& path);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  const ArchiveHeader& header() const { return header_; }
  // The next row, or nullopt after the last one (then the trailer's count has been checked).
  std::optional<ArchivedRow> next();

 private:
  std::optional<std::string> next_line();
  [[noreturn]] void damaged(const std::string& why) const;

  std::filesystem::path path_;
  std::ifstream in_;
  ZSTD_DCtx* context_ = nullptr;
  std::string pending_;  // decompressed bytes not yet returned as lines
  bool input_done_ = false;
  ArchiveHeader header_;
  std::uint64_t rows_ = 0;
  bool ended_ = false;
};

// Reads the whole archive at `path` and throws unless it holds exactly `rows` rows: the check
// before anything is dropped.
void check_archive(const std::filesystem::path& path, std::uint64_t rows);

// Loads an archive back into its table (re-creating the column, nullable, when it is gone) and
// returns the rows written. `lock_timeout` bounds the wait for the table's lock to add it.
std::uint64_t restore_archive(ColumnBackend& backend, const std::filesystem::path& path,
                              std::chrono::milliseconds lock_timeout);

}  // namespace sluice

#pragma once

#include <zstd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "src/column_backend.h"

namespace sluice {

// Frees zstd's (de)compression contexts, so that a constructor that throws leaks none.
struct ZstdContextFree {
  void operator()(ZSTD_CCtx* context) const { ZSTD_freeCCtx(context); }
  void operator()(ZSTD_DCtx* context) const { ZSTD_freeDCtx(context); }
};

// What an archive holds: one column of a table with the key to put it back by (what contract
// drops of a column migration), or a whole table (the original a rebuild kept).
enum class ArchiveKind { column, table };

struct ArchiveHeader {
  ArchiveKind kind = ArchiveKind::column;
  std::string migration;
  std::string dialect;  // "mysql" or "postgres"
  ddl::QualifiedName table;
  std::vector<std::string> key;
  std::string encoding;  // how values are written: "hex" (MySQL: bytes) or "text" (PostgreSQL)
  // A column archive's column and its SQL type, to re-create it.
  std::string column;
  std::string type;
  // A table archive's columns and what re-creates the table (TableDefinition::definition).
  std::vector<ArchivedColumn> columns;
  std::string definition;

  // How many values each row holds.
  std::size_t row_width() const {
    return kind == ArchiveKind::table ? columns.size() : key.size() + 1;
  }
};

// Writes an archive: zstd-compressed JSON lines, a header object, one array per row (a column
// archive: key values, then the column's value or null; a table archive: every column's value
// or null) and a trailer object with the row count. Version 2 headers say which kind they are;
// version 1 files (column archives from before table archives) still read. The file appears
// under its name only when finish() succeeded; until then it is `<path>.partial`.
class ArchiveWriter {
 public:
  // Throws Error(ExitCode::usage) when the file exists or cannot be created.
  ArchiveWriter(std::filesystem::path path, const ArchiveHeader& header);
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // Throws Error(ExitCode::failure) for a row that does not hold header.row_width() values.
  void add(const ArchivedRow& row);
  // Writes the trailer, flushes and renames the file into place.
  void finish();
  std::uint64_t rows() const { return rows_; }

 private:
  void write_line(const nlohmann::json& line);
  void compress(const std::string& data, ZSTD_EndDirective mode);

  std::filesystem::path path_;
  std::filesystem::path partial_;
  std::size_t row_width_;
  std::ofstream out_;
  std::unique_ptr<ZSTD_CCtx, ZstdContextFree> context_;
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
  std::unique_ptr<ZSTD_DCtx, ZstdContextFree> context_;
  std::string pending_;  // decompressed bytes not yet returned as lines
  bool input_done_ = false;
  ArchiveHeader header_;
  std::uint64_t rows_ = 0;
  bool ended_ = false;
};

// Reads the whole archive at `path` and throws unless it holds exactly `rows` rows: the check
// before anything is dropped.
void check_archive(const std::filesystem::path& path, std::uint64_t rows);

// Loads an archive back and returns the rows written. `table` (name or schema.name, an
// unqualified name in the archived table's schema) overrides the archived table's name.
// A column archive goes into its table, re-creating the column (nullable) when it is gone;
// `lock_timeout` bounds the wait for the table's lock to add it. A table archive is checked
// whole, then re-creates its table and inserts the rows in batches, one transaction each;
// it refuses with Error(ExitCode::preflight_failed) when a table of that name exists, and
// drops the table it created when a batch fails.
std::uint64_t restore_archive(ColumnBackend& backend, const std::filesystem::path& path,
                              std::chrono::milliseconds lock_timeout,
                              const std::optional<std::string>& table);

}  // namespace sluice

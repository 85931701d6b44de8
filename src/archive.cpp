#include "src/archive.h"

#include <spdlog/spdlog.h>

#include <array>

#include "ddl/ddl_error.h"
#include "src/error.h"

namespace sluice {
namespace {

constexpr const char* kFormat = "sluice-archive";
// Version 2 added table archives and the header's "kind"; version 1 files are column archives.
constexpr int kVersion = 2;
constexpr int kColumnsOnlyVersion = 1;

nlohmann::json header_json(const ArchiveHeader& header) {
  nlohmann::json json{{"format", kFormat},
                      {"version", kVersion},
                      {"kind", header.kind == ArchiveKind::table ? "table" : "column"},
                      {"migration", header.migration},
                      {"dialect", header.dialect},
                      {"schema", header.table.schema},
                      {"table", header.table.name},
                      {"key", header.key},
                      {"encoding", header.encoding}};
  if (header.kind == ArchiveKind::column) {
    json["column"] = header.column;
    json["type"] = header.type;
    return json;
  }
  nlohmann::json columns = nlohmann::json::array();
  for (const ArchivedColumn& column : header.columns) {
    columns.push_back({{"name", column.name},
                       {"type", column.type},
                       {"nullable", column.nullable},
                       {"generated", column.generated}});
  }
  json["columns"] = std::move(columns);
  json["definition"] = header.definition;
  return json;
}

// nullopt for an unknown kind or a table without columns; throws nlohmann::json::exception for
// a missing or mistyped field.
std::optional<ArchiveHeader> header_from_json(const nlohmann::json& json, int version) {
  ArchiveHeader header;
  const std::string kind =
      version == kColumnsOnlyVersion ? "column" : json.at("kind").get<std::string>();
  header.migration = json.at("migration").get<std::string>();
  header.dialect = json.at("dialect").get<std::string>();
  header.table = {json.at("schema").get<std::string>(), json.at("table").get<std::string>()};
  header.key = json.at("key").get<std::vector<std::string>>();
  header.encoding = json.at("encoding").get<std::string>();
  if (kind == "column") {
    header.column = json.at("column").get<std::string>();
    header.type = json.at("type").get<std::string>();
    return header;
  }
  if (kind != "table") {
    return std::nullopt;
  }
  header.kind = ArchiveKind::table;
  for (const nlohmann::json& column : json.at("columns")) {
    header.columns.push_back(
        {column.at("name").get<std::string>(), column.at("type").get<std::string>(),
         column.at("nullable").get<bool>(), column.at("generated").get<bool>()});
  }
  header.definition = json.at("definition").get<std::string>();
  if (header.columns.empty()) {
    return std::nullopt;
  }
  return header;
}

nlohmann::json row_json(const ArchivedRow& row) {
  nlohmann::json values = nlohmann::json::array();
  for (const std::optional<std::string>& value : row) {
    values.push_back(value ? nlohmann::json(*value) : nlohmann::json(nullptr));
  }
  return values;
}

}  // namespace

ArchiveWriter::ArchiveWriter(std::filesystem::path path, const ArchiveHeader& header)
    : path_(std::move(path)),
      partial_(path_.string() + ".partial"),
      row_width_(header.row_width()) {
  if (std::filesystem::exists(path_)) {
    throw Error(ExitCode::usage, "the archive " + path_.string() +
                                     " already exists; choose another path or move it away");
  }
  out_.open(partial_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    throw Error(ExitCode::usage, "cannot create the archive " + partial_.string() +
                                     "; check that its directory exists and is writable");
  }
  context_.reset(ZSTD_createCCtx());
  write_line(header_json(header));
}

ArchiveWriter::~ArchiveWriter() {
  if (!finished_) {
    out_.close();
    std::error_code ignored;
    std::filesystem::remove(partial_, ignored);
  }
}

void ArchiveWriter::compress(const std::string& data, ZSTD_EndDirective mode) {
  std::array<char, 1 << 16> buffer{};
  ZSTD_inBuffer input{data.data(), data.size(), 0};
  for (;;) {
    ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
    const std::size_t remaining = ZSTD_compressStream2(context_.get(), &output, &input, mode);
    if (ZSTD_isError(remaining)) {
      throw Error(ExitCode::failure,
                  std::string("compressing the archive failed: ") + ZSTD_getErrorName(remaining));
    }
    out_.write(buffer.data(), static_cast<std::streamsize>(output.pos));
    const bool consumed = input.pos == input.size;
    if (mode == ZSTD_e_continue ? consumed : remaining == 0) {
      break;
    }
  }
  if (!out_) {
    throw Error(ExitCode::failure,
                "writing the archive " + partial_.string() + " failed; check the free space");
  }
}

void ArchiveWriter::write_line(const nlohmann::json& line) {
  compress(line.dump() + "\n", ZSTD_e_continue);
}

void ArchiveWriter::add(const ArchivedRow& row) {
  if (row.size() != row_width_) {
    throw Error(ExitCode::failure, "a row of " + std::to_string(row.size()) +
                                       " values does not fit the archive's " +
                                       std::to_string(row_width_) + " columns");
  }
  write_line(row_json(row));
  ++rows_;
}

void ArchiveWriter::finish() {
  compress(nlohmann::json{{"rows", rows_}}.dump() + "\n", ZSTD_e_end);
  out_.flush();
  out_.close();
  if (!out_) {
    throw Error(ExitCode::failure, "writing the archive " + partial_.string() + " failed");
  }
  std::filesystem::rename(partial_, path_);
  finished_ = true;
}

ArchiveReader::ArchiveReader(const std::filesystem::path& path) : path_(path) {
  in_.open(path_, std::ios::binary);
  if (!in_) {
    throw Error(ExitCode::not_found, "cannot read the archive " + path_.string());
  }
  context_.reset(ZSTD_createDCtx());
  const std::optional<std::string> first = next_line();
  const nlohmann::json header =
      first ? nlohmann::json::parse(*first, nullptr, false) : nlohmann::json();
  if (!header.is_object() || header.value("format", "") != kFormat) {
    damaged("it is not a sluice archive");
  }
  const int version = header.value("version", 0);
  if (version != kVersion && version != kColumnsOnlyVersion) {
    damaged("its version " + std::to_string(version) + " is not one this sluice reads");
  }
  std::optional<ArchiveHeader> parsed;
  try {
    parsed = header_from_json(header, version);
  } catch (const nlohmann::json::exception&) {
    damaged("its header is incomplete");
  }
  if (!parsed) {
    damaged("its header describes neither a column nor a table");
  }
  header_ = std::move(*parsed);
}

ArchiveReader::~ArchiveReader() = default;

void ArchiveReader::damaged(const std::string& why) const {
  throw Error(ExitCode::usage, "the archive " + path_.string() + " cannot be used: " + why);
}

std::optional<std::string> ArchiveReader::next_line() {
  std::array<char, 1 << 16> input_buffer{};
  std::array<char, 1 << 17> output_buffer{};
  for (;;) {
    const std::size_t newline = pending_.find('\n');
    if (newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }
    if (input_done_) {
      return std::nullopt;
    }
    in_.read(input_buffer.data(), input_buffer.size());
    const std::size_t got = static_cast<std::size_t>(in_.gcount());
    if (got == 0) {
      input_done_ = true;
      continue;
    }
    ZSTD_inBuffer input{input_buffer.data(), got, 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output{output_buffer.data(), output_buffer.size(), 0};
      const std::size_t result = ZSTD_decompressStream(context_.get(), &output, &input);
      if (ZSTD_isError(result)) {
        damaged(std::string("it does not decompress (") + ZSTD_getErrorName(result) + ")");
      }
      pending_.append(output_buffer.data(), output.pos);
    }
  }
}

std::optional<ArchivedRow> ArchiveReader::next() {
  if (ended_) {
    return std::nullopt;
  }
  const std::optional<std::string> line = next_line();
  if (!line) {
    damaged("it ends without its trailer (truncated)");
  }
  const nlohmann::json json = nlohmann::json::parse(*line, nullptr, false);
  if (json.is_object() && json.contains("rows")) {
    if (json["rows"].get<std::uint64_t>() != rows_) {
      damaged("its trailer counts " + json["rows"].dump() + " rows but it holds " +
              std::to_string(rows_));
    }
    ended_ = true;
    return std::nullopt;
  }
  if (!json.is_array() || json.size() != header_.row_width()) {
    damaged("row " + std::to_string(rows_ + 1) + " is malformed");
  }
  ArchivedRow row;
  for (const nlohmann::json& value : json) {
    if (value.is_null()) {
      row.push_back(std::nullopt);
    } else if (value.is_string()) {
      row.push_back(value.get<std::string>());
    } else {
      damaged("row " + std::to_string(rows_ + 1) + " holds a value that is not text");
    }
  }
  ++rows_;
  return row;
}

namespace {

// Reads the whole archive (every check the reader makes) and returns how many rows it holds.
std::uint64_t archived_rows(const std::filesystem::path& path) {
  ArchiveReader reader(path);
  std::uint64_t rows = 0;
  while (reader.next()) {
    ++rows;
  }
  return rows;
}

// Where to restore: `table` when given (an unqualified name in the archived table's schema),
// else the archived table.
ddl::QualifiedName restore_target(const ColumnBackend& backend, const ArchiveHeader& header,
                                  const std::optional<std::string>& table) {
  if (!table) {
    return header.table;
  }
  try {
    return ddl::parse_qualified_name(backend.ddl().dialect(), *table, header.table.schema);
  } catch (const ddl::DdlError& error) {
    throw Error(ExitCode::usage, std::string("invalid --table: ") + error.what());
  }
}

std::uint64_t restore_column(ColumnBackend& backend, ArchiveReader& reader,
                             const ddl::QualifiedName& target,
                             std::chrono::milliseconds lock_timeout) {
  const ArchiveHeader& header = reader.header();
  const ddl::QualifiedName table =
      backend.resolve_table(ddl::quote_qualified(backend.ddl().dialect(), target));
  if (!backend.column(table, header.column)) {
    for (const Step& step : backend.ddl().add_column(table, header.column, header.type)) {
      spdlog::info("running: {}", step.sql);
      backend.run(table, step, lock_timeout, 5);
    }
  }
  constexpr std::size_t kBatch = 1000;
  std::vector<ArchivedRow> batch;
  std::uint64_t rows = 0;
  const auto flush = [&] {
    backend.write_column(table, header.column, header.key, batch);
    rows += batch.size();
    batch.clear();
  };
  while (std::optional<ArchivedRow> row = reader.next()) {
    batch.push_back(std::move(*row));
    if (batch.size() == kBatch) {
      flush();
    }
  }
  flush();
  spdlog::info("restored column {} of {} rows", header.column, rows);
  return rows;
}

// Drops the table a restore created unless the restore completed, so that a failed restore can
// simply be run again.
class CreatedTable {
 public:
  CreatedTable(ColumnBackend& backend, ddl::QualifiedName table)
      : backend_(backend), table_(std::move(table)) {}
  ~CreatedTable() {
    if (kept_) {
      return;
    }
    try {
      backend_.drop_table(table_);
      spdlog::warn("the restore failed; dropped the partly restored table {}",
                   ddl::quote_qualified(backend_.ddl().dialect(), table_));
    } catch (const std::exception& error) {
      spdlog::error("could not drop the partly restored table {}: {}",
                    ddl::quote_qualified(backend_.ddl().dialect(), table_), error.what());
    }
  }
  CreatedTable(const CreatedTable&) = delete;
  CreatedTable& operator=(const CreatedTable&) = delete;
  void keep() { kept_ = true; }

 private:
  ColumnBackend& backend_;
  ddl::QualifiedName table_;
  bool kept_ = false;
};

std::uint64_t restore_table(ColumnBackend& backend, const std::filesystem::path& path,
                            ArchiveReader& reader, const ddl::QualifiedName& target) {
  const ArchiveHeader& header = reader.header();
  const std::string name = ddl::quote_qualified(backend.ddl().dialect(), target);
  if (backend.table_exists(target)) {
    throw Error(ExitCode::preflight_failed,
                "table " + name + " already exists; restore under another name with --table NAME");
  }
  // A damaged archive is refused before anything is created.
  archived_rows(path);
  backend.create_table(target, header.definition);
  CreatedTable created(backend, target);
  // Batches stay well inside a statement's limits: PostgreSQL's 65535 parameters, MySQL's
  // max_allowed_packet (16 MiB by default; hex doubles the bytes).
  constexpr std::size_t kBatchRows = 1000;
  constexpr std::size_t kBatchValues = 30000;
  constexpr std::size_t kBatchBytes = 4 << 20;
  std::vector<ArchivedRow> batch;
  std::size_t batch_bytes = 0;
  std::uint64_t rows = 0;
  const auto flush = [&] {
    if (!batch.empty()) {
      backend.insert_rows(target, header.columns, batch);
    }
    rows += batch.size();
    batch.clear();
    batch_bytes = 0;
  };
  while (std::optional<ArchivedRow> row = reader.next()) {
    for (const std::optional<std::string>& value : *row) {
      batch_bytes += value ? value->size() : 0;
    }
    batch.push_back(std::move(*row));
    if (batch.size() == kBatchRows || (batch.size() + 1) * header.columns.size() > kBatchValues ||
        batch_bytes >= kBatchBytes) {
      flush();
    }
  }
  flush();
  created.keep();
  spdlog::info("restored table {} with {} rows", name, rows);
  return rows;
}

}  // namespace

void check_archive(const std::filesystem::path& path, std::uint64_t rows) {
  const std::uint64_t read = archived_rows(path);
  if (read != rows) {
    throw Error(ExitCode::failure, "the archive " + path.string() + " holds " +
                                       std::to_string(read) + " rows, not the " +
                                       std::to_string(rows) + " written; nothing was dropped");
  }
}

std::uint64_t restore_archive(ColumnBackend& backend, const std::filesystem::path& path,
                              std::chrono::milliseconds lock_timeout,
                              const std::optional<std::string>& table) {
  ArchiveReader reader(path);
  const ArchiveHeader& header = reader.header();
  const bool mysql = backend.ddl().dialect() == ddl::Dialect::mysql;
  if (header.dialect != (mysql ? "mysql" : "postgres")) {
    throw Error(ExitCode::usage, "the archive " + path.string() + " was written on " +
                                     header.dialect + " and cannot be restored here");
  }
  const ddl::QualifiedName target = restore_target(backend, header, table);
  return header.kind == ArchiveKind::table ? restore_table(backend, path, reader, target)
                                           : restore_column(backend, reader, target, lock_timeout);
}

}  // namespace sluice

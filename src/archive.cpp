#include "src/archive.h"

#include <spdlog/spdlog.h>

#include <array>

#include "src/error.h"

namespace sluice {
namespace {

constexpr const char* kFormat = "sluice-archive";
constexpr int kVersion = 1;

nlohmann::json row_json(const ArchivedRow& row) {
  nlohmann::json values = nlohmann::json::array();
  for (const std::optional<std::string>& value : row) {
    values.push_back(value ? nlohmann::json(*value) : nlohmann::json(nullptr));
  }
  return values;
}

}  // namespace

ArchiveWriter::ArchiveWriter(std::filesystem::path path, const ArchiveHeader& header)
    : path_(std::move(path)), partial_(path_.string() + ".partial") {
  if (std::filesystem::exists(path_)) {
    throw Error(ExitCode::usage, "the archive " + path_.string() +
                                     " already exists; choose another path or move it away");
  }
  out_.open(partial_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    throw Error(ExitCode::usage, "cannot create the archive " + partial_.string() +
                                     "; check that its directory exists and is writable");
  }
  context_ = ZSTD_createCCtx();
  write_line({{"format", kFormat},
              {"version", kVersion},
              {"migration", header.migration},
              {"dialect", header.dialect},
              {"schema", header.table.schema},
              {"table", header.table.name},
              {"key", header.key},
              {"column", header.column},
              {"type", header.type},
              {"encoding", header.encoding}});
}

ArchiveWriter::~ArchiveWriter() {
  ZSTD_freeCCtx(context_);
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
    const std::size_t remaining = ZSTD_compressStream2(context_, &output, &input, mode);
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
  context_ = ZSTD_createDCtx();
  const std::optional<std::string> first = next_line();
  const nlohmann::json header =
      first ? nlohmann::json::parse(*first, nullptr, false) : nlohmann::json();
  if (!header.is_object() || header.value("format", "") != kFormat) {
    damaged("it is not a sluice archive");
  }
  if (header.value("version", 0) != kVersion) {
    damaged("its version " + std::to_string(header.value("version", 0)) +
            " is not one this sluice reads");
  }
  try {
    header_.migration = header.at("migration").get<std::string>();
    header_.dialect = header.at("dialect").get<std::string>();
    header_.table = {header.at("schema").get<std::string>(), header.at("table").get<std::string>()};
    header_.key = header.at("key").get<std::vector<std::string>>();
    header_.column = header.at("column").get<std::string>();
    header_.type = header.at("type").get<std::string>();
    header_.encoding = header.at("encoding").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    damaged("its header is incomplete");
  }
}

ArchiveReader::~ArchiveReader() {
  ZSTD_freeDCtx(context_);
}

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
      const std::size_t result = ZSTD_decompressStream(context_, &output, &input);
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
  if (!json.is_array() || json.size() != header_.key.size() + 1) {
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

void check_archive(const std::filesystem::path& path, std::uint64_t rows) {
  ArchiveReader reader(path);
  std::uint64_t read = 0;
  while (reader.next()) {
    ++read;
  }
  if (read != rows) {
    throw Error(ExitCode::failure, "the archive " + path.string() + " holds " +
                                       std::to_string(read) + " rows, not the " +
                                       std::to_string(rows) + " written; nothing was dropped");
  }
}

std::uint64_t restore_archive(ColumnBackend& backend, const std::filesystem::path& path,
                              std::chrono::milliseconds lock_timeout) {
  ArchiveReader reader(path);
  const ArchiveHeader& header = reader.header();
  const bool mysql = backend.ddl().dialect() == ddl::Dialect::mysql;
  if (header.dialect != (mysql ? "mysql" : "postgres")) {
    throw Error(ExitCode::usage, "the archive " + path.string() + " was written on " +
                                     header.dialect + " and cannot be restored here");
  }
  const ddl::QualifiedName table =
      backend.resolve_table(ddl::quote_qualified(backend.ddl().dialect(), header.table));
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
  spdlog::info("restored column {} of {} rows from {}", header.column, rows, path.string());
  return rows;
}

}  // namespace sluice

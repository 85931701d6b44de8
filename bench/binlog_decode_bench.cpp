// Decode rate of the binlog decoder: row events per second on one core, over binlog files
// captured by scripts/record-bench-binlog. The files are read into memory first, so the figure
// is decoding alone (event parsing, table maps, row images, key extraction), no I/O.
//
//   scripts/record-bench-binlog /tmp/sluice-bench-binlog
//   build/bench/binlog_decode_bench /tmp/sluice-bench-binlog
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "replication/mysql/binlog_decoder.h"
#include "replication/mysql/binlog_file.h"

using namespace sluice::replication;
using namespace sluice::replication::mysql;

namespace {

constexpr int kRuns = 3;

struct Result {
  std::uint64_t rows = 0;
  std::uint64_t changes = 0;
  double seconds = 0;
};

Result decode_all(const std::vector<BinlogFile>& files, bool full_images) {
  DecoderOptions options;
  options.tables.push_back({"sluice_test", "orders", {}});
  options.full_images = full_images;
  BinlogDecoder decoder(options);
  decoder.start_at({"bin.000002", 4, "", 0}, true);
  Result result;
  const auto start = std::chrono::steady_clock::now();
  for (const BinlogFile& file : files) {
    for (auto event : file.events()) {
      if (auto transaction = decoder.feed(event)) {
        result.changes += transaction->changes.size();
      }
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.rows = decoder.rows_decoded();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR  (binlog files from scripts/record-bench-binlog)\n",
                 argv[0]);
    return 2;
  }
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<BinlogFile> files;
  std::uint64_t bytes = 0;
  for (const std::string& path : paths) {
    files.emplace_back(path);
    bytes += std::filesystem::file_size(path);
  }
  std::printf("%zu binlog files, %.1f MB\n", files.size(), static_cast<double>(bytes) / 1e6);
  for (bool full : {false, true}) {
    Result best;
    for (int run = 0; run < kRuns; ++run) {
      Result result = decode_all(files, full);
      if (best.seconds == 0 || result.seconds < best.seconds) {
        best = result;
      }
    }
    std::printf("%-28s %9llu row events in %.3f s: %.2f M row events/s (best of %d)\n",
                full ? "keys + full before/after:" : "keys only:",
                static_cast<unsigned long long>(best.rows), best.seconds,
                static_cast<double>(best.rows) / best.seconds / 1e6, kRuns);
    if (best.changes != best.rows) {
      std::fprintf(stderr, "delivered %llu changes for %llu decoded rows\n",
                   static_cast<unsigned long long>(best.changes),
                   static_cast<unsigned long long>(best.rows));
      return 1;
    }
  }
  return 0;
}

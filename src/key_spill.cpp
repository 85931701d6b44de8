#include "src/key_spill.h"

#include <cstdint>
#include <string>

#include "src/error.h"

namespace sluice {
namespace {

void put(std::FILE* file, const void* data, std::size_t size) {
  if (size != 0 && std::fwrite(data, 1, size, file) != size) {
    throw Error(ExitCode::failure,
                "cannot write changed keys to a temporary file (is the temporary directory full?)");
  }
}

void get(std::FILE* file, void* data, std::size_t size) {
  if (size != 0 && std::fread(data, 1, size, file) != size) {
    throw Error(ExitCode::failure, "cannot read changed keys back from their temporary file");
  }
}

std::uint32_t get_u32(std::FILE* file) {
  std::uint32_t value = 0;
  get(file, &value, sizeof value);
  return value;
}

}  // namespace

void KeySpill::write(const std::vector<replication::Row>& keys) {
  if (!file_) {
    file_.reset(std::tmpfile());
    if (!file_) {
      throw Error(ExitCode::failure,
                  "cannot create a temporary file for changed keys (set TMPDIR to a writable "
                  "directory)");
    }
  }
  // Reads and writes share one file position: appends always go to the end.
  if (std::fseek(file_.get(), 0, SEEK_END) != 0) {
    throw Error(ExitCode::failure, "cannot write changed keys to a temporary file");
  }
  for (const replication::Row& key : keys) {
    const auto columns = static_cast<std::uint32_t>(key.size());
    put(file_.get(), &columns, sizeof columns);
    for (const replication::Value& value : key) {
      const auto kind = static_cast<std::uint8_t>(value.kind);
      const auto length = static_cast<std::uint32_t>(value.text.size());
      put(file_.get(), &kind, sizeof kind);
      put(file_.get(), &length, sizeof length);
      put(file_.get(), value.text.data(), value.text.size());
    }
  }
  written_ += keys.size();
}

std::vector<replication::Row> KeySpill::read(std::size_t count) {
  std::vector<replication::Row> keys;
  if (size() == 0) {
    return keys;
  }
  // A write since the last read moved the position to the end; go back to where reading stopped.
  if (std::fflush(file_.get()) != 0 || std::fseek(file_.get(), read_offset_, SEEK_SET) != 0) {
    throw Error(ExitCode::failure, "cannot read changed keys back from their temporary file");
  }
  while (keys.size() < count && size() > 0) {
    replication::Row key(get_u32(file_.get()));
    for (replication::Value& value : key) {
      std::uint8_t kind = 0;
      get(file_.get(), &kind, sizeof kind);
      value.kind = static_cast<replication::ValueKind>(kind);
      value.text.resize(get_u32(file_.get()));
      get(file_.get(), value.text.data(), value.text.size());
    }
    keys.push_back(std::move(key));
    ++read_;
  }
  read_offset_ = std::ftell(file_.get());
  if (size() == 0) {
    // Everything was read back: start the file over, so it never grows past one flush's keys.
    written_ = read_ = 0;
    read_offset_ = 0;
    file_.reset();
  }
  return keys;
}

}  // namespace sluice

#include "src/checkpoint.h"

#include <array>
#include <nlohmann/json.hpp>

#include "src/error.h"

namespace sluice {
namespace {

using replication::ValueKind;

constexpr std::array<std::pair<ValueKind, const char*>, 7> kKinds = {{
    {ValueKind::null, "null"},
    {ValueKind::unchanged, "unchanged"},
    {ValueKind::number, "number"},
    {ValueKind::text, "text"},
    {ValueKind::binary, "binary"},
    {ValueKind::temporal, "temporal"},
    {ValueKind::json, "json"},
}};

const char* kind_name(ValueKind kind) {
  for (const auto& [value, name] : kKinds) {
    if (value == kind) {
      return name;
    }
  }
  return "null";
}

ValueKind kind_from_name(const std::string& name) {
  for (const auto& [value, text] : kKinds) {
    if (name == text) {
      return value;
    }
  }
  throw Error(ExitCode::failure, "the saved checkpoint names an unknown value kind '" + name + "'");
}

// Binary and character key values are raw bytes, which JSON strings cannot carry: saved as hex.
std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) {
    throw Error(ExitCode::failure, "the saved checkpoint holds malformed hex");
  }
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

}  // namespace

std::string to_json(const Checkpoint& checkpoint) {
  nlohmann::json out;
  if (checkpoint.watermark) {
    out["watermark"] = nlohmann::json::array();
    for (const replication::Value& value : *checkpoint.watermark) {
      // Character keys too: their bytes are in the column's character set (latin1, …), which
      // a JSON string cannot carry unless it happens to be UTF-8.
      const bool hex = value.kind == ValueKind::binary || value.kind == ValueKind::text;
      out["watermark"].push_back({{"kind", kind_name(value.kind)},
                                  {"hex", hex},
                                  {"value", hex ? to_hex(value.text) : value.text}});
    }
  } else {
    out["watermark"] = nullptr;
  }
  out["position"] = {{"file", checkpoint.position.file},
                     {"offset", checkpoint.position.offset},
                     {"gtid", checkpoint.position.gtid},
                     {"lsn", checkpoint.position.lsn}};
  // Written only when set, so that a key-range copy's checkpoints read as they always did.
  if (checkpoint.copied) {
    out["copied"] = true;
  }
  if (checkpoint.revert_point) {
    out["revert_point"] = true;
  }
  if (!checkpoint.reverse_slot.empty()) {
    out["reverse_slot"] = checkpoint.reverse_slot;
  }
  return out.dump();
}

Checkpoint checkpoint_from_json(const std::string& text) {
  try {
    const nlohmann::json in = nlohmann::json::parse(text);
    Checkpoint checkpoint;
    if (!in.at("watermark").is_null()) {
      replication::Row row;
      for (const nlohmann::json& value : in.at("watermark")) {
        const std::string saved = value.at("value").get<std::string>();
        row.push_back({kind_from_name(value.at("kind").get<std::string>()),
                       value.at("hex").get<bool>() ? from_hex(saved) : saved});
      }
      checkpoint.watermark = std::move(row);
    }
    const nlohmann::json& position = in.at("position");
    checkpoint.position.file = position.at("file").get<std::string>();
    checkpoint.position.offset = position.at("offset").get<std::uint64_t>();
    checkpoint.position.gtid = position.at("gtid").get<std::string>();
    checkpoint.position.lsn = position.at("lsn").get<std::uint64_t>();
    checkpoint.copied = in.value("copied", false);
    checkpoint.revert_point = in.value("revert_point", false);
    checkpoint.reverse_slot = in.value("reverse_slot", std::string());
    return checkpoint;
  } catch (const nlohmann::json::exception& error) {
    throw Error(ExitCode::failure,
                std::string("the saved checkpoint is damaged (") + error.what() + ")");
  }
}

}  // namespace sluice

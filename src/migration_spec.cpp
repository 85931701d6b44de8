#include "src/migration_spec.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "src/error.h"

namespace sluice {
namespace {

struct OperationKeys {
  MigrationOperation operation;
  std::string_view name;
  std::set<std::string> required;
  std::set<std::string> optional;
};

// The keys every migration takes, whatever its operation.
const std::set<std::string> kCommonKeys = {
    "name", "table", "operation", "grace", "old-clients", "dual-write-clients", "switch-after"};

const std::array<OperationKeys, 7>& operations() {
  static const std::array<OperationKeys, 7> table = {{
      {MigrationOperation::add_column, "add-column", {"column", "type"}, {"backfill"}},
      {MigrationOperation::rename_column, "rename-column", {"column", "new-column"}, {"backfill"}},
      {MigrationOperation::change_type,
       "change-type",
       {"column", "type"},
       {"new-column", "backfill"}},
      {MigrationOperation::add_not_null, "add-not-null", {"column"}, {"backfill"}},
      {MigrationOperation::drop_column, "drop-column", {"column"}, {}},
      {MigrationOperation::add_index, "add-index", {"index-columns"}, {"index-name", "unique"}},
      {MigrationOperation::rebuild, "rebuild", {"alter"}, {}},
  }};
  return table;
}

const OperationKeys& keys_of(MigrationOperation operation) {
  return *std::find_if(operations().begin(), operations().end(),
                       [&](const OperationKeys& keys) { return keys.operation == operation; });
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return "";
  }
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

std::vector<std::string> split_columns(const std::string& text, const std::string& where) {
  std::vector<std::string> columns;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    part = trim(part);
    if (part.empty()) {
      throw Error(ExitCode::usage,
                  where + ": index-columns has an empty column name; list them as a, b");
    }
    columns.push_back(part);
  }
  return columns;
}

bool parse_bool(const std::string& text, const std::string& key, const std::string& where) {
  if (text == "true" || text == "yes" || text == "1") {
    return true;
  }
  if (text == "false" || text == "no" || text == "0") {
    return false;
  }
  throw Error(ExitCode::usage, where + ": " + key + " must be true or false, not '" + text + "'");
}

// JSON scalars (and index-columns arrays) as the text an INI file would hold.
std::map<std::string, std::string> settings_from_json(const nlohmann::json& object,
                                                      const std::string& where) {
  if (!object.is_object()) {
    throw Error(ExitCode::usage, where + ": a JSON migration file holds one object");
  }
  std::map<std::string, std::string> settings;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) {
      settings[key] = value.get<std::string>();
    } else if (value.is_boolean()) {
      settings[key] = value.get<bool>() ? "true" : "false";
    } else if (value.is_number_integer()) {
      settings[key] = std::to_string(value.get<std::int64_t>());
    } else if (value.is_array() && key == "index-columns") {
      std::string joined;
      for (const nlohmann::json& column : value) {
        if (!column.is_string()) {
          throw Error(ExitCode::usage, where + ": index-columns must list column names");
        }
        joined += (joined.empty() ? "" : ",") + column.get<std::string>();
      }
      settings[key] = joined;
    } else {
      throw Error(ExitCode::usage,
                  where + ": the value of '" + key + "' must be a string, a number or a boolean");
    }
  }
  return settings;
}

// The value of an INI line without its inline comment: a '#' or ';' that follows a space or a
// tab starts one, unless it is inside '…', "…" or `…` quotes, so SQL such as
// `CONCAT(a, ' # ', b)` or `a;b` stays whole.
std::string strip_inline_comment(std::string_view value) {
  char quote = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote != 0) {
      quote = c == quote ? 0 : quote;
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if ((c == '#' || c == ';') && i > 0 && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return trim(value.substr(0, i));
    }
  }
  return trim(value);
}

std::map<std::string, std::string> settings_from_ini(std::istream& in, const std::string& where) {
  std::map<std::string, std::string> settings;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') {
      continue;
    }
    const auto equals = text.find('=');
    if (equals == std::string::npos) {
      throw Error(ExitCode::usage, where + ":" + std::to_string(number) +
                                       ": expected 'key = value', got '" + text + "'");
    }
    const std::string key = trim(text.substr(0, equals));
    if (settings.count(key) != 0) {
      throw Error(ExitCode::usage,
                  where + ":" + std::to_string(number) + ": '" + key + "' is set twice");
    }
    settings[key] = strip_inline_comment(std::string_view(text).substr(equals + 1));
  }
  return settings;
}

// Parses a JSON migration file, refusing a key that appears twice in one object: nlohmann::json
// would silently keep the last value, and INI files refuse duplicates too.
nlohmann::json parse_json_file(std::istream& in, const std::string& where) {
  std::vector<std::set<std::string>> objects;  // the keys seen in each open object
  std::string duplicate;
  const nlohmann::json::parser_callback_t track = [&](int, nlohmann::json::parse_event_t event,
                                                      nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      objects.emplace_back();
    } else if (event == Event::object_end && !objects.empty()) {
      objects.pop_back();
    } else if (event == Event::key && !objects.empty() &&
               !objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  const nlohmann::json json = nlohmann::json::parse(in, track, false);
  if (json.is_discarded()) {
    throw Error(ExitCode::usage, where + ": not valid JSON");
  }
  if (!duplicate.empty()) {
    throw Error(ExitCode::usage,
                where + ": '" + duplicate + "' is set twice; keep one of its values");
  }
  return json;
}

}  // namespace

std::string_view operation_name(MigrationOperation operation) {
  return keys_of(operation).name;
}

std::optional<MigrationOperation> parse_operation(std::string_view name) {
  for (const OperationKeys& keys : operations()) {
    if (keys.name == name) {
      return keys.operation;
    }
  }
  return std::nullopt;
}

bool MigrationSpec::has_backfill() const {
  switch (operation) {
    case MigrationOperation::rename_column:
    case MigrationOperation::change_type:
      return true;
    case MigrationOperation::add_column:
    case MigrationOperation::add_not_null:
      return !backfill.empty();
    default:
      return false;
  }
}

bool MigrationSpec::switch_needs_release() const {
  return operation == MigrationOperation::rename_column ||
         operation == MigrationOperation::change_type ||
         operation == MigrationOperation::add_not_null;
}

std::string MigrationSpec::target_column() const {
  switch (operation) {
    case MigrationOperation::rename_column:
    case MigrationOperation::change_type:
      return new_column;
    case MigrationOperation::add_column:
    case MigrationOperation::add_not_null:
      return column;
    default:
      return "";
  }
}

std::int64_t parse_duration(std::string_view text) {
  const std::string value = trim(text);
  std::size_t digits = 0;
  while (digits < value.size() && value[digits] >= '0' && value[digits] <= '9') {
    ++digits;
  }
  const std::string unit = value.substr(digits);
  static const std::map<std::string, std::int64_t> kUnits = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  const auto factor = kUnits.find(unit);
  if (digits == 0 || digits > 9 || factor == kUnits.end()) {
    throw Error(ExitCode::usage, "'" + value +
                                     "' is not a duration; write seconds, or a number followed "
                                     "by s, m, h or d (e.g. 24h)");
  }
  return std::stoll(value.substr(0, digits)) * factor->second;
}

MigrationSpec spec_from_settings(const std::map<std::string, std::string>& settings,
                                 const std::string& where) {
  const auto get = [&](const std::string& key) {
    const auto found = settings.find(key);
    return found == settings.end() ? std::string() : found->second;
  };
  MigrationSpec spec;
  const std::string operation = get("operation");
  const std::optional<MigrationOperation> parsed = parse_operation(operation);
  if (!parsed) {
    std::string known;
    for (const OperationKeys& keys : operations()) {
      known += (known.empty() ? "" : ", ") + std::string(keys.name);
    }
    throw Error(ExitCode::usage, where + ": " +
                                     (operation.empty() ? std::string("no operation")
                                                        : "unknown operation '" + operation + "'") +
                                     "; use one of " + known);
  }
  spec.operation = *parsed;
  const OperationKeys& keys = keys_of(spec.operation);
  for (const auto& [key, value] : settings) {
    if (kCommonKeys.count(key) == 0 && keys.required.count(key) == 0 &&
        keys.optional.count(key) == 0) {
      throw Error(ExitCode::usage, where + ": '" + key + "' is not a setting of operation " +
                                       operation + " (see docs/migrations.md)");
    }
    if (value.empty()) {
      throw Error(ExitCode::usage, where + ": '" + key + "' is empty");
    }
  }
  for (const std::string& key : keys.required) {
    if (get(key).empty()) {
      throw Error(ExitCode::usage, where + ": operation " + operation + " needs '" + key + "'");
    }
  }
  spec.name = get("name");
  spec.table = get("table");
  if (spec.name.empty() || spec.table.empty()) {
    throw Error(ExitCode::usage, where + ": a migration needs a name and a table");
  }
  spec.column = get("column");
  spec.new_column = get("new-column");
  spec.type = get("type");
  spec.backfill = get("backfill");
  spec.alter = get("alter");
  spec.old_clients = get("old-clients");
  spec.dual_write_clients = get("dual-write-clients");
  if (!get("switch-after").empty()) {
    spec.switch_after_seconds = parse_duration(get("switch-after"));
  }
  spec.index_name = get("index-name");
  if (!get("index-columns").empty()) {
    spec.index_columns = split_columns(get("index-columns"), where);
  }
  if (!get("unique").empty()) {
    spec.unique = parse_bool(get("unique"), "unique", where);
  }
  if (!get("grace").empty()) {
    spec.grace_seconds = parse_duration(get("grace"));
  }
  if (spec.operation == MigrationOperation::change_type && spec.new_column.empty()) {
    spec.new_column = spec.column + "_new";
  }
  if (spec.operation == MigrationOperation::add_index && spec.index_name.empty()) {
    spec.index_name = "idx";
    for (const std::string& column : spec.index_columns) {
      spec.index_name += "_" + column;
    }
  }
  if (!spec.new_column.empty() && spec.new_column == spec.column) {
    throw Error(ExitCode::usage, where + ": new-column must differ from column");
  }
  return spec;
}

std::string MigrationSpec::to_json() const {
  nlohmann::json json{{"source", "migration file"},
                      {"name", name},
                      {"table", table},
                      {"operation", std::string(operation_name(operation))},
                      {"grace", std::to_string(grace_seconds)}};
  const auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) {
      json[key] = value;
    }
  };
  put("column",
      operation == MigrationOperation::add_index || operation == MigrationOperation::rebuild
          ? ""
          : column);
  put("new-column", new_column);
  put("type", type);
  put("backfill", backfill);
  put("alter", alter);
  put("old-clients", old_clients);
  put("dual-write-clients", dual_write_clients);
  if (switch_after_seconds) {
    json["switch-after"] = std::to_string(*switch_after_seconds);
  }
  if (operation == MigrationOperation::add_index) {
    json["index-columns"] = index_columns;
    json["index-name"] = index_name;
    json["unique"] = unique;
  }
  return json.dump();
}

MigrationSpec MigrationSpec::from_json(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    throw Error(ExitCode::failure, "a recorded migration spec is not valid JSON");
  }
  json.erase("source");
  return spec_from_settings(settings_from_json(json, "recorded spec"), "recorded spec");
}

bool is_phased_spec(const std::string& spec_json) {
  const nlohmann::json json = nlohmann::json::parse(spec_json, nullptr, false);
  return json.is_object() && json.value("source", "") == "migration file";
}

MigrationSpec load_migration_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw Error(ExitCode::not_found,
                "cannot read migration file " + path.string() + "; check the path");
  }
  const std::string where = path.filename().string();
  std::map<std::string, std::string> settings;
  if (path.extension() == ".json") {
    settings = settings_from_json(parse_json_file(in, where), where);
  } else {
    settings = settings_from_ini(in, where);
  }
  if (settings.count("name") == 0) {
    settings["name"] = path.stem().string();
  }
  return spec_from_settings(settings, where);
}

}  // namespace sluice

#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// The expand-contract operations a migration file can ask for (docs/migrations.md).
enum class MigrationOperation {
  add_column,     // add a column, optionally backfilled from an expression
  rename_column,  // add the new name, backfill it from the old, drop the old at contract
  change_type,    // add a column of the new type, backfill it with a cast, drop the old
  add_not_null,   // fill NULLs, then enforce NOT NULL without a long lock
  drop_column,    // stop using a column, drop it at contract
  add_index,      // build an index online (PostgreSQL: CONCURRENTLY)
  rebuild,        // any ALTER, through sluice alter's online rebuild at switch
};

std::string_view operation_name(MigrationOperation operation);
std::optional<MigrationOperation> parse_operation(std::string_view name);

// One migration as its file declares it. Names are unquoted, as the server stores them.
struct MigrationSpec {
  std::string name;
  std::string table;  // as the user types it: name or schema.name
  MigrationOperation operation = MigrationOperation::rebuild;
  // The existing column the operation works on; for add-column the column it adds.
  std::string column;
  // rename-column and change-type: the column the application moves to.
  std::string new_column;
  // add-column and change-type: the new column's type, as SQL.
  std::string type;
  // An SQL expression over the row's columns that computes the new value; empty for the
  // operation's default (rename: the old column; change-type: a cast of it).
  std::string backfill;
  std::vector<std::string> index_columns;  // add-index
  std::string index_name;                  // add-index
  bool unique = false;                     // add-index
  std::string alter;                       // rebuild: the ALTER TABLE specification
  std::int64_t grace_seconds = 0;          // the wait between switch and contract
  // An SQL condition over the server's session list that matches clients of the application
  // version before the switch; contract waits until none is connected.
  std::string old_clients;
  // An SQL condition over the session list (as old_clients) that matches clients of a release
  // writing both schemas; switch waits until every connected client other than sluice matches.
  std::string dual_write_clients;
  // How long since expand (and since verification last found differing rows) switch waits;
  // nullopt when the file does not say.
  std::optional<std::int64_t> switch_after_seconds;

  // Whether the operation copies values into a column between expand and switch.
  bool has_backfill() const;
  // Whether switching is safe only once a release of the application is deployed (one that
  // writes both columns, or only non-NULL values): rename-column, change-type, add-not-null.
  // `sluice run` switches such a migration only when the file sets dual_write_clients or
  // switch_after_seconds (docs/migrations.md, "The application's part").
  bool switch_needs_release() const;
  // The column the backfill writes and verification checks, if any.
  std::string target_column() const;

  // The spec as the phase metadata stores it, and back. from_json validates like a file.
  std::string to_json() const;
  static MigrationSpec from_json(const std::string& json);
};

// Builds a spec from `key = value` settings (keys as in docs/migrations.md). `where` names the
// source for messages. Throws Error(ExitCode::usage) naming the key at fault: unknown keys, keys
// the operation does not take, missing required keys, malformed values.
MigrationSpec spec_from_settings(const std::map<std::string, std::string>& settings,
                                 const std::string& where);

// Reads a migration file: JSON (an object of strings, numbers, booleans and, for
// index-columns, an array; a key may appear once) when the name ends in .json, else INI
// (`key = value` lines, each key once; `#` and `;` start a comment at the start of a line, and
// after a value when they follow a space or tab outside '…', "…" and `…` quotes). The name
// defaults to the file's stem. Throws Error(ExitCode::usage) or Error(ExitCode::not_found) for a
// missing file.
MigrationSpec load_migration_file(const std::filesystem::path& path);

// "90", "90s", "15m", "24h", "7d" in seconds; throws Error(ExitCode::usage) otherwise.
std::int64_t parse_duration(std::string_view text);

// Whether a phase-metadata record was written for a migration file (spec from to_json), as
// opposed to a single `sluice alter` run: such migrations wait between commands without a lease.
bool is_phased_spec(const std::string& spec_json);

}  // namespace sluice

#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/postgres/pg_connection.h"

namespace sluice::postgres {

// Which keys a PostgreSQL rebuild can match rows by. The copy needs no key order (it reads
// pages under the change stream's snapshot), and the applier finds rows by the server's own
// equality; but it keeps the latest image per key by the key's exact text, as pgoutput prints
// it with the walsender's fixed settings (docs/architecture.md §3). That is the server's
// equality for types whose equal values always print alike, in a deterministic collation.

// One column of the key the change stream identifies rows by.
struct KeyColumnFacts {
  std::string name;       // unquoted
  std::string type;       // format_type()
  std::string base_type;  // pg_type.typname of the type, or of a domain's base type
  bool is_enum = false;
  // The column's collation when it is nondeterministic (equal texts may differ in bytes).
  std::optional<std::string> nondeterministic_collation;
};

// The facts of each key column of the table of oid $1, in key order: its replica identity index
// when one is set, else its primary key.
std::string key_facts_sql();

// key_facts_sql() run on `session` for the table of oid `table_oid`.
std::vector<KeyColumnFacts> read_key_facts(Connection& session, const std::string& table_oid);

// Why a rebuild cannot match rows by `column`, as one sentence, or nullopt when it can.
std::optional<std::string> key_refusal(const KeyColumnFacts& column);

}  // namespace sluice::postgres

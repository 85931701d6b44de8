#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "replication/change_event.h"

namespace sluice::replication::postgres {

using Oid = std::uint32_t;

// One column as a pgoutput RELATION message describes it.
struct RelationColumn {
  std::string name;
  Oid type = 0;
  std::int32_t type_modifier = -1;
  bool key = false;  // part of the replica identity (every column under REPLICA IDENTITY FULL)
};

// What the decoder needs to turn a relation's tuples into change events.
struct Relation {
  std::shared_ptr<const TableDescription> table;
  std::vector<ValueKind> kinds;  // per column: how its text values are reported
  char replica_identity = 'd';   // 'd' default, 'n' nothing, 'f' full, 'i' index
};

// The relations and types a pgoutput stream has described so far. The server describes a
// relation before its first change on every connection and again after each schema change, so
// the latest description always wins.
class RelationCache {
 public:
  // Records a TYPE message: a non-built-in type's name, used for columns of that type.
  void add_type(Oid oid, std::string schema, std::string name);

  // Records a RELATION message. An empty `schema` is pg_catalog, as pgoutput sends it.
  void add_relation(Oid oid, std::string schema, std::string table, char replica_identity,
                    const std::vector<RelationColumn>& columns);

  // The latest description of `oid`; throws StreamError when the stream never described it.
  const Relation& get(Oid oid) const;

 private:
  std::unordered_map<Oid, Relation> relations_;
  std::unordered_map<Oid, std::string> type_names_;
};

// How a value of a built-in type is reported: numbers as number, bytea as binary, json and jsonb
// as json, date and time types as temporal, everything else (including user types) as text.
ValueKind value_kind(Oid type);

// The name of a built-in type ("int4", "timestamptz"), or "" when it is not one sluice knows.
std::string builtin_type_name(Oid type);

}  // namespace sluice::replication::postgres

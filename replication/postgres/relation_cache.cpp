#include "replication/postgres/relation_cache.h"

#include "replication/stream_error.h"

namespace sluice::replication::postgres {
namespace {

struct BuiltinType {
  Oid oid;
  const char* name;
  ValueKind kind;
};

// OIDs from the server's pg_type.dat; they are fixed across releases.
constexpr BuiltinType kBuiltinTypes[] = {
    {16, "bool", ValueKind::text},
    {17, "bytea", ValueKind::binary},
    {18, "char", ValueKind::text},
    {19, "name", ValueKind::text},
    {20, "int8", ValueKind::number},
    {21, "int2", ValueKind::number},
    {23, "int4", ValueKind::number},
    {25, "text", ValueKind::text},
    {26, "oid", ValueKind::number},
    {114, "json", ValueKind::json},
    {142, "xml", ValueKind::text},
    {700, "float4", ValueKind::number},
    {701, "float8", ValueKind::number},
    {790, "money", ValueKind::text},
    {1042, "bpchar", ValueKind::text},
    {1043, "varchar", ValueKind::text},
    {1082, "date", ValueKind::temporal},
    {1083, "time", ValueKind::temporal},
    {1114, "timestamp", ValueKind::temporal},
    {1184, "timestamptz", ValueKind::temporal},
    {1186, "interval", ValueKind::text},
    {1266, "timetz", ValueKind::temporal},
    {1560, "bit", ValueKind::text},
    {1562, "varbit", ValueKind::text},
    {1700, "numeric", ValueKind::number},
    {2950, "uuid", ValueKind::text},
    {3802, "jsonb", ValueKind::json},
};

const BuiltinType* find_builtin(Oid type) {
  for (const BuiltinType& builtin : kBuiltinTypes) {
    if (builtin.oid == type) {
      return &builtin;
    }
  }
  return nullptr;
}

}  // namespace

ValueKind value_kind(Oid type) {
  const BuiltinType* builtin = find_builtin(type);
  return builtin ? builtin->kind : ValueKind::text;
}

std::string builtin_type_name(Oid type) {
  const BuiltinType* builtin = find_builtin(type);
  return builtin ? builtin->name : "";
}

void RelationCache::add_type(Oid oid, std::string schema, std::string name) {
  type_names_[oid] = schema.empty() || schema == "pg_catalog" ? name : schema + "." + name;
}

void RelationCache::add_relation(Oid oid, std::string schema, std::string table,
                                 char replica_identity,
                                 const std::vector<RelationColumn>& columns) {
  auto description = std::make_shared<TableDescription>();
  description->schema = schema.empty() ? "pg_catalog" : std::move(schema);
  description->table = std::move(table);
  Relation relation;
  relation.replica_identity = replica_identity;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const RelationColumn& column = columns[i];
    std::string type = builtin_type_name(column.type);
    if (type.empty()) {
      const auto named = type_names_.find(column.type);
      type = named != type_names_.end() ? named->second : "oid " + std::to_string(column.type);
    }
    description->columns.push_back(Column{column.name, type});
    relation.kinds.push_back(value_kind(column.type));
    if (column.key) {
      description->key_columns.push_back(i);
    }
  }
  relation.table = std::move(description);
  relations_[oid] = std::move(relation);
}

const Relation& RelationCache::get(Oid oid) const {
  const auto found = relations_.find(oid);
  if (found == relations_.end()) {
    throw StreamError("pgoutput sent a change for relation " + std::to_string(oid) +
                      " before describing it");
  }
  return found->second;
}

}  // namespace sluice::replication::postgres

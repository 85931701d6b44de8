#pragma once

#include "replication/change_event.h"

namespace sluice {

// Orders key tuples the way the server orders the key, for the key kinds sluice can compare
// without asking the server: numbers (integers and decimals, any length), binary strings
// (bytewise) and temporal values in ISO form. Returns <0, 0, >0. Character keys compare by
// collation, which only the server knows: the MySQL family never calls this (its applier
// re-reads changed keys, docs/architecture.md §3); the PostgreSQL applier does.
int compare_keys(const replication::Row& a, const replication::Row& b);

}  // namespace sluice

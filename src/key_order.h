#pragma once

#include "replication/change_event.h"

namespace sluice {

// Orders key tuples the way the server orders the key, for the key kinds sluice can compare
// without asking the server: numbers (integers and decimals, any length), binary strings
// (bytewise) and temporal values in ISO form. Returns <0, 0, >0. Character keys compare by
// collation, which only the server knows; plans refuse them (see supports_client_order).
int compare_keys(const replication::Row& a, const replication::Row& b);

// True when every value of `kind` compares correctly with compare_keys.
bool supports_client_order(replication::ValueKind kind);

}  // namespace sluice

#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ddl/identifier.h"

namespace sluice {

struct ColumnInfo {
  std::string name;
  std::string data_type;    // lower case base type: "int", "varchar", "datetime", ...
  std::string column_type;  // full type as the server prints it: "int(10) unsigned"
  std::string charset;      // character columns only ("utf8mb4"); empty otherwise
  bool nullable = true;
  bool generated = false;
};

// A table as sluice sees it: columns in table order and the key the copy walks.
struct TableSchema {
  ddl::QualifiedName name;
  std::vector<ColumnInfo> columns;
  std::string key_name;                  // "PRIMARY" or the unique key's name
  std::vector<std::size_t> key_columns;  // indexes into `columns`, in key order

  // The index of the column called `column`, if any.
  std::optional<std::size_t> find(const std::string& column) const;
};

}  // namespace sluice

#include "src/table_schema.h"

namespace sluice {

std::optional<std::size_t> TableSchema::find(const std::string& column) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace sluice

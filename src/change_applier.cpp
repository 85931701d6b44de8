#include "src/change_applier.h"

#include "src/error.h"

namespace sluice {

replication::Row key_of(const replication::Row& image,
                        const std::vector<std::size_t>& key_columns) {
  replication::Row key;
  key.reserve(key_columns.size());
  for (std::size_t column : key_columns) {
    if (column >= image.size()) {
      throw Error(ExitCode::failure, "a change event carries fewer columns than the table has");
    }
    key.push_back(image[column]);
  }
  return key;
}

}  // namespace sluice

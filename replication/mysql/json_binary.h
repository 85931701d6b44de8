#pragma once

#include <string>
#include <string_view>

namespace sluice::replication::mysql {

// Converts MySQL 8's binary JSON column format (the bytes after the column's length prefix) to
// JSON text, so a JSON column is delivered as a document the engine can bind back. Opaque
// scalars (DATE, TIME, DECIMAL… stored inside JSON) are emitted as MySQL prints unknown opaque
// values, "base64:typeN:…". Throws StreamError on malformed input.
std::string json_binary_to_text(std::string_view binary);

}  // namespace sluice::replication::mysql

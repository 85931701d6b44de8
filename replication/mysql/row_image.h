#pragma once

#include <cstdint>
#include <vector>

#include "replication/change_event.h"
#include "replication/mysql/byte_reader.h"
#include "replication/mysql/table_map.h"

namespace sluice::replication::mysql {

// Decodes one column value in the binlog's row format into the text form `Value` promises:
// integers with their sign, DECIMAL with every scale digit ("-0.001"), floats in the shortest
// form that reads back to the same bits, temporal values in ISO form with exactly the column's
// fractional digits (TIMESTAMP in UTC, zero dates as "0000-00-00"), character data as the raw
// bytes of the column's charset, binary data raw (BINARY padded back to its width), ENUM/SET as
// their member strings, MySQL binary JSON converted to text.
// Throws StreamError for truncated bytes or a type the binlog cannot describe.
void decode_value(const ColumnInfo& column, ByteReader& reader, Value& out);

// Advances past one column value without producing text (the key-only path).
void skip_value(const ColumnInfo& column, ByteReader& reader);

// Decodes one row image of a rows event: its null bitmap (one bit per present column) and the
// values of the present columns. `present` is the event's columns-present bitmap. Columns not
// present (binlog_row_image=MINIMAL/NOBLOB) become ValueKind::unchanged. When `wanted` is given,
// only columns with a non-zero entry are decoded; the others are skipped and left unchanged.
void decode_row(const TableMap& map, const std::uint8_t* present, ByteReader& reader, Row& out,
                const std::vector<char>* wanted = nullptr);

}  // namespace sluice::replication::mysql

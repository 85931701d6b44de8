#pragma once

#include <string_view>

namespace sluice::replication::mysql {

// Whether `statement`, logged as a QUERY event whose default database was `default_schema`
// (empty when there was none), is DDL that may change the table `schema`.`table`: it starts
// with ALTER, CREATE, DROP, RENAME or TRUNCATE (after comments; the code inside executable
// comments `/*! … */` counts) and one of the names it contains is the table's. A name is
// `schema`.`table` written out, or `table` alone when the default database is `schema` or
// unknown; backtick- and double-quoted names are unquoted, and names compare without regard to
// case (lower_case_table_names may fold them).
//
// Conservative by design (docs/safety.md, "Concurrent schema changes"): a column, index or
// trigger that happens to carry the table's name also counts, so such a statement stops a run
// that it would not have harmed. Only the source of `CREATE TABLE … LIKE table`, which reads
// the table's definition without changing it (sluice's own shadow table is created so), is
// not counted. Never throws: any bytes are a statement.
bool ddl_names_table(std::string_view statement, std::string_view default_schema,
                     std::string_view schema, std::string_view table);

}  // namespace sluice::replication::mysql

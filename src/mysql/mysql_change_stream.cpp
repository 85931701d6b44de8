#include "src/mysql/mysql_change_stream.h"

#include "ddl/identifier.h"
#include "replication/mysql/binlog_stream.h"
#include "replication/stream_error.h"
#include "src/error.h"
#include "src/mysql/mysql_binlog.h"
#include "src/mysql/mysql_connection.h"
#include "src/mysql/mysql_schema.h"
#include "src/stream_errors.h"

namespace sluice::mysql {

std::unique_ptr<replication::ChangeStream> open_mysql_stream(
    const Dsn& dsn, const std::optional<std::string>& password, const std::string& table_text,
    std::uint32_t server_id) {
  const ddl::QualifiedName name = resolve_table_name(dsn, table_text);
  Connection connection(dsn, password);
  const std::string quoted = ddl::quote_qualified(ddl::Dialect::mysql, {name.schema, name.name});
  if (!connection.query_value("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
                              connection.quote_literal(name.schema) +
                              " AND TABLE_NAME = " + connection.quote_literal(name.name))) {
    throw Error(ExitCode::not_found, "table " + quoted + " does not exist on " + dsn.display());
  }
  // Statement-based events carry no row images: the stream would silently miss changes.
  const std::string format = connection.query_value("SELECT @@global.binlog_format").value_or("");
  if (format != "ROW") {
    throw Error(ExitCode::preflight_failed,
                "the server logs binlog_format=" + format +
                    ", which carries no row images; set binlog_format=ROW (SET GLOBAL "
                    "binlog_format = 'ROW' and in the server's configuration)");
  }
  // MariaDB's pre-10.1.2 temporal columns with fractional seconds are written to the binlog
  // without their precision, so their row images cannot be decoded.
  for (const auto& row :
       connection.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
                        connection.quote_literal(name.schema) +
                        " AND TABLE_NAME = " + connection.quote_literal(name.name) +
                        " AND COLUMN_TYPE LIKE '%mariadb-5.3%' AND DATETIME_PRECISION > 0")) {
    throw Error(ExitCode::preflight_failed,
                "column " + ddl::quote_identifier(ddl::Dialect::mysql, row.at(0).value_or("")) +
                    " of " + quoted +
                    " uses MariaDB 5.3's temporal format with fractional seconds, which the "
                    "binlog cannot describe; convert the table with ALTER TABLE " +
                    quoted + " FORCE");
  }
  std::vector<ResultRow> status;
  try {
    status = connection.query("SHOW MASTER STATUS");
  } catch (const Error& error) {
    throw Error(ExitCode::preflight_failed,
                std::string("cannot read the binlog position (SHOW MASTER STATUS): ") +
                    error.what() + "; grant BINLOG MONITOR (MariaDB) or REPLICATION CLIENT");
  }
  if (status.empty() || !status.front().at(0) || !status.front().at(1)) {
    throw Error(ExitCode::preflight_failed,
                "binary logging is off on " + dsn.display() +
                    "; start the server with log_bin, binlog_format=ROW and "
                    "binlog_row_metadata=FULL");
  }
  replication::Position start;
  start.file = *status.front()[0];
  start.offset = std::stoull(*status.front()[1]);

  replication::mysql::BinlogConnectionOptions options = binlog_connection(dsn, password);
  options.server_id = server_id;
  replication::mysql::DecoderOptions decoder;
  decoder.tables.push_back({name.schema, name.name, {}});
  try {
    return std::make_unique<replication::mysql::BinlogStream>(options, decoder, start);
  } catch (const replication::StreamError& error) {
    throw_stream_failure(error);
  }
}

}  // namespace sluice::mysql

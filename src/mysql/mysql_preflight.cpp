#include "src/mysql/mysql_preflight.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "src/error.h"
#include "src/mysql/mysql_cut_over.h"
#include "src/mysql/mysql_grants.h"
#include "src/mysql/mysql_schema.h"
#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {
namespace {

using ddl::Dialect;

std::string value_or(const std::optional<std::string>& value, std::string fallback) {
  return value ? *value : std::move(fallback);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

std::string server_label(Connection& connection) {
  std::string version = value_or(connection.query_value("SELECT VERSION()"), "unknown");
  const bool mariadb = version.find("MariaDB") != std::string::npos;
  return (mariadb ? "MariaDB " : "MySQL ") + version.substr(0, version.find('-'));
}

std::optional<std::string> global_variable(Connection& connection, const std::string& name) {
  std::vector<ResultRow> rows =
      connection.query("SHOW GLOBAL VARIABLES LIKE " + connection.quote_literal(name));
  if (rows.empty() || rows.front().size() < 2) {
    return std::nullopt;
  }
  return rows.front()[1];
}

void check_binlog_settings(Connection& connection, PreflightReport& report) {
  const std::string log_bin = ascii_upper(value_or(global_variable(connection, "log_bin"), "OFF"));
  if (log_bin == "ON" || log_bin == "1") {
    report.pass("log_bin", "the binary log is on");
  } else {
    report.fail("log_bin", "the binary log is off, so sluice cannot see concurrent writes",
                "start the server with log_bin (e.g. --log-bin=mysql-bin) and restart it");
  }

  const std::string format =
      ascii_upper(value_or(global_variable(connection, "binlog_format"), ""));
  if (format == "ROW") {
    report.pass("binlog_format", "binlog_format is ROW");
  } else {
    report.fail("binlog_format",
                "binlog_format is " + format + "; sluice needs row images of every change",
                "SET GLOBAL binlog_format = 'ROW' and set it in the server configuration; "
                "connected clients keep the old format until they reconnect");
  }

  const std::string image =
      ascii_upper(value_or(global_variable(connection, "binlog_row_image"), ""));
  if (image == "FULL") {
    report.pass("binlog_row_image", "binlog_row_image is FULL");
  } else {
    report.fail("binlog_row_image",
                "binlog_row_image is " + image + "; sluice needs the full image of every row",
                "SET GLOBAL binlog_row_image = 'FULL' and set it in the server configuration");
  }

  std::optional<std::string> metadata = global_variable(connection, "binlog_row_metadata");
  if (!metadata) {
    report.fail("binlog_row_metadata",
                "the server has no binlog_row_metadata setting, so row events do not name "
                "their columns",
                "upgrade to MariaDB 10.5+ or MySQL 8.0+");
  } else if (ascii_upper(*metadata) == "FULL") {
    report.pass("binlog_row_metadata", "binlog_row_metadata is FULL");
  } else {
    report.fail("binlog_row_metadata",
                "binlog_row_metadata is " + ascii_upper(*metadata) +
                    "; sluice needs column names, signedness and keys in row events",
                "SET GLOBAL binlog_row_metadata = 'FULL' and set it in the server configuration");
  }

  const std::string server_id = value_or(global_variable(connection, "server_id"), "0");
  if (server_id != "0") {
    report.pass("server_id", "server_id is " + server_id);
  } else {
    report.fail("server_id", "server_id is 0, and such a server refuses replication clients",
                "set server_id to a non-zero value unique in the replication topology");
  }
}

void check_privileges(Connection& connection, const SessionGrants& grants,
                      PreflightReport& report) {
  const std::set<std::string> privileges = privileges_on(grants.lines, "");
  const bool all = privileges.contains("ALL PRIVILEGES");
  std::vector<std::string> missing;
  if (!all && !privileges.contains("REPLICATION SLAVE")) {
    missing.push_back("REPLICATION SLAVE");
  }
  if (!all && !privileges.contains("REPLICATION CLIENT") &&
      !privileges.contains("BINLOG MONITOR")) {
    missing.push_back("REPLICATION CLIENT");
  }
  const std::string user = value_or(connection.query_value("SELECT CURRENT_USER()"), "?");
  if (missing.empty()) {
    report.pass("replication_privileges",
                user + " holds REPLICATION SLAVE and REPLICATION CLIENT (or BINLOG MONITOR)");
  } else {
    report.fail("replication_privileges",
                user + " lacks " + join(missing) + " on *.*, needed to read the binary log",
                grant_fix(grants, join(missing), "*.*", user));
  }
}

// The privileges `sluice alter` uses on the table's database: copy (SELECT, INSERT), apply
// (DELETE, UPDATE), shadow table and sentry (CREATE, DROP, ALTER), cut-over (LOCK TABLES, and
// ALTER and DROP for RENAME TABLE); the phase metadata lives there by default too.
void check_table_privileges(Connection& connection, const SessionGrants& grants,
                            const ddl::QualifiedName& table, PreflightReport& report) {
  const std::set<std::string> privileges = privileges_on(grants.lines, table.schema);
  std::vector<std::string> missing;
  if (!privileges.contains("ALL PRIVILEGES")) {
    for (const char* needed :
         {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "LOCK TABLES"}) {
      if (!privileges.contains(needed)) {
        missing.push_back(needed);
      }
    }
  }
  const std::string user = value_or(connection.query_value("SELECT CURRENT_USER()"), "?");
  const std::string database = ddl::quote_identifier(Dialect::mysql, table.schema);
  if (missing.empty()) {
    report.pass("table_privileges",
                user + " may copy, create, rename and drop tables in " + database);
  } else {
    report.fail("table_privileges",
                user + " lacks " + join(missing) + " on " + database +
                    ".*, needed to build the new table and swap it in",
                grant_fix(grants, join(missing), database + ".*", user));
  }
}

void check_table(Connection& connection, const ddl::QualifiedName& table, const std::string& quoted,
                 PreflightReport& report) {
  std::vector<ResultRow> rows = connection.query(
      "SELECT ENGINE, TABLE_TYPE, CREATE_OPTIONS FROM information_schema.TABLES WHERE "
      "TABLE_SCHEMA = " +
      connection.quote_literal(table.schema) +
      " AND TABLE_NAME = " + connection.quote_literal(table.name));
  if (rows.empty()) {
    throw Error(ExitCode::not_found, "table " + quoted +
                                         " does not exist; check --table and the database in "
                                         "the DSN");
  }
  const std::string type = value_or(rows.front()[1], "");
  const std::string engine = value_or(rows.front()[0], "");
  if (type != "BASE TABLE") {
    report.fail("table", quoted + " is a " + type + ", not a base table",
                "name the underlying table instead");
  } else if (value_or(rows.front()[2], "").find("partitioned") != std::string::npos) {
    // Not tested with sluice's copy, verification and swap: refused rather than risked.
    report.fail("table", quoted + " is partitioned, and sluice does not migrate partitioned tables",
                "change it with ALTER TABLE directly (per partition where the server allows "
                "it), or remove the partitioning first");
  } else if (ascii_upper(engine) != "INNODB") {
    report.fail("table", quoted + " uses the " + engine + " engine; sluice copies InnoDB tables",
                "convert it with ALTER TABLE ... ENGINE=InnoDB first");
  } else {
    report.pass("table", quoted + " exists and uses InnoDB");
  }
}

void check_key(Connection& connection, const ddl::QualifiedName& table, const std::string& quoted,
               PreflightReport& report) {
  std::optional<ChosenKey> key = choose_key(connection, table);
  if (!key) {
    report.fail("key",
                quoted +
                    " has no PRIMARY KEY and no UNIQUE key on NOT NULL columns, so rows "
                    "cannot be identified in the change stream",
                "add a primary key (e.g. an AUTO_INCREMENT id) before migrating online");
    return;
  }
  std::vector<std::string> columns;
  for (const std::string& column : key->columns) {
    columns.push_back(ddl::quote_identifier(Dialect::mysql, column));
  }
  if (key->name == "PRIMARY") {
    report.pass("key", "copy walks the PRIMARY KEY (" + join(columns) + ")");
  } else {
    report.pass("key", "copy walks the unique key " +
                           ddl::quote_identifier(Dialect::mysql, key->name) + " (" + join(columns) +
                           "), whose columns are all NOT NULL");
  }
}

std::vector<std::string> quoted_names(const std::vector<ResultRow>& rows) {
  std::vector<std::string> names;
  for (const ResultRow& row : rows) {
    std::string name;
    for (const std::optional<std::string>& part : row) {
      name +=
          (name.empty() ? "" : ".") + ddl::quote_identifier(Dialect::mysql, value_or(part, "?"));
    }
    names.push_back(name);
  }
  return names;
}

void check_triggers(Connection& connection, const ddl::QualifiedName& table,
                    const std::string& quoted, PreflightReport& report) {
  std::vector<std::string> triggers = quoted_names(connection.query(
      "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = " +
      connection.quote_literal(table.schema) + " AND EVENT_OBJECT_TABLE = " +
      connection.quote_literal(table.name) + " ORDER BY TRIGGER_NAME"));
  if (triggers.empty()) {
    report.pass("triggers", quoted + " has no triggers");
  } else {
    report.fail("triggers",
                quoted + " has triggers (" + join(triggers) +
                    ") that would not follow the table through the swap",
                "drop them for the migration and re-create them on the new table afterwards");
  }
}

void check_foreign_keys(Connection& connection, const ddl::QualifiedName& table,
                        const std::string& quoted, PreflightReport& report) {
  const std::string schema = connection.quote_literal(table.schema);
  const std::string name = connection.quote_literal(table.name);
  std::vector<std::string> outgoing = quoted_names(connection.query(
      "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
      "CONSTRAINT_SCHEMA = " +
      schema + " AND TABLE_NAME = " + name + " ORDER BY CONSTRAINT_NAME"));
  std::vector<std::string> incoming = quoted_names(connection.query(
      "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME FROM "
      "information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = " +
      schema + " AND REFERENCED_TABLE_NAME = " + name + " ORDER BY 1, 2, 3"));
  if (outgoing.empty() && incoming.empty()) {
    report.pass("foreign_keys", "no foreign keys reference or leave " + quoted);
    return;
  }
  std::string found;
  if (!outgoing.empty()) {
    found += "it references other tables through " + join(outgoing);
  }
  if (!incoming.empty()) {
    found += std::string(found.empty() ? "" : " and ") + "other tables reference it through " +
             join(incoming);
  }
  report.fail("foreign_keys",
              quoted + " takes part in foreign keys (" + found +
                  "), which a table swap would leave pointing at the old table",
              "drop the foreign keys for the migration and re-create them afterwards");
}

void check_generated_columns(Connection& connection, const ddl::QualifiedName& table,
                             PreflightReport& report) {
  std::vector<std::string> generated = quoted_names(
      connection.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = " +
                       connection.quote_literal(table.schema) +
                       " AND TABLE_NAME = " + connection.quote_literal(table.name) +
                       " AND COALESCE(GENERATION_EXPRESSION, '') <> '' ORDER BY ORDINAL_POSITION"));
  if (generated.empty()) {
    report.pass("generated_columns", "no generated columns");
  } else {
    report.pass("generated_columns", "generated columns " + join(generated) +
                                         " are not copied; the server recomputes them");
  }
}

}  // namespace

// The helper tables a run of `table` makes (mysql_shadow_sql.h): their names must fit and be
// free. A shadow table or sentry there belongs to a running or crashed run of sluice.
void check_leftovers(Connection& connection, const ddl::QualifiedName& table,
                     PreflightReport& report) {
  const std::string typed = table.schema + "." + table.name;
  if (table.name.size() > kMaxTableName) {
    report.fail(std::string(kLeftoversCheck),
                "the table name is longer than " + std::to_string(kMaxTableName) +
                    " characters, leaving no room for sluice's helper tables within MySQL's "
                    "64-character limit",
                "rename the table, or change it with ALTER TABLE directly");
    return;
  }
  const auto comment_of = [&](const ddl::QualifiedName& name) {
    const std::vector<ResultRow> rows =
        connection.query(table_row_sql("TABLE_COMMENT", connection.quote_literal(name.schema),
                                       connection.quote_literal(name.name)));
    return rows.empty() ? std::nullopt : std::optional<std::string>(value_or(rows[0][0], ""));
  };
  const ddl::QualifiedName shadow = shadow_name(table);
  const ddl::QualifiedName swap = swap_name(table);
  if (comment_of(shadow)) {
    report.fail(std::string(kLeftoversCheck),
                "the shadow table " + ddl::quote_qualified(Dialect::mysql, shadow) +
                    " exists: a sluice alter of this table is running, or a crashed one left it",
                "resume the crashed run (sluice alter --resume NAME, see sluice status) or drop "
                "what it left with sluice cleanup --table " +
                    typed);
  } else if (const std::optional<std::string> comment = comment_of(swap)) {
    const bool sentry = *comment == kSentryComment;
    report.fail(std::string(kLeftoversCheck),
                ddl::quote_qualified(Dialect::mysql, swap) +
                    (sentry ? " exists, left by an interrupted cut-over"
                            : " exists, and the cut-over needs that name"),
                sentry ? "run sluice cleanup --table " + typed + " (it drops a sentry)"
                       : "rename or drop that table");
  } else {
    report.pass(std::string(kLeftoversCheck),
                "no shadow table or cut-over sentry of an earlier run");
  }
}

// sluice revert (docs/alter.md, "Revert") reads the binlog from the cut-over on, for up to the
// run's --revert-window (24 h by default): a server that expires its binlogs sooner makes that
// window shorter, so this warns, never fails.
void check_binlog_retention(Connection& connection, PreflightReport& report) {
  constexpr long long kDefaultWindow = 86400;
  long long seconds =
      std::stoll(value_or(global_variable(connection, "binlog_expire_logs_seconds"), "0"));
  if (seconds == 0) {
    seconds = std::stoll(value_or(global_variable(connection, "expire_logs_days"), "0")) * 86400;
  }
  if (seconds == 0 || seconds >= kDefaultWindow) {
    report.pass("binlog_retention",
                seconds == 0 ? "binlogs are kept until purged: sluice revert can read them for "
                               "its whole window"
                             : "binlogs are kept " + std::to_string(seconds) +
                                   " s, at least sluice revert's default window of 24 h");
    return;
  }
  report.warn("binlog_retention",
              "binlogs expire after " + std::to_string(seconds) +
                  " s, sooner than sluice revert's default window of 24 h: a migration can be "
                  "reverted only while the binlog from its cut-over is kept",
              "set binlog_expire_logs_seconds to at least 86400, or give sluice alter a "
              "--revert-window shorter than " +
                  std::to_string(seconds) + " s");
}

// The cut-over's reader guard (docs/alter.md, step 7): without it the cut-over still works, but
// may cost the application a metadata-lock deadlock (1213), so this warns, never fails.
void check_cut_over_guard(Connection& connection, PreflightReport& report) {
  if (can_see_metadata_locks(connection)) {
    report.pass("cutover_guard",
                "the cut-over can see who holds metadata locks, and queues its lock only when no "
                "transaction that read the table is open");
    return;
  }
  report.warn("cutover_guard",
              "the cut-over cannot see who holds metadata locks (the metadata_lock_info plugin "
              "is not active, or PROCESS is missing): an application transaction that reads the "
              "table, then writes it while the cut-over's lock is queued, may be rolled back as a "
              "deadlock victim (1213)",
              "INSTALL SONAME 'metadata_lock_info' (no restart) and GRANT PROCESS ON *.* to the "
              "user");
}

PreflightReport run_preflight(Connection& connection, const ddl::QualifiedName& table) {
  PreflightReport report;
  report.server = server_label(connection);
  report.table = ddl::quote_qualified(Dialect::mysql, table);
  check_table(connection, table, report.table, report);
  check_binlog_settings(connection, report);
  const SessionGrants grants = read_session_grants(connection);
  check_privileges(connection, grants, report);
  check_table_privileges(connection, grants, table, report);
  check_key(connection, table, report.table, report);
  check_triggers(connection, table, report.table, report);
  check_foreign_keys(connection, table, report.table, report);
  check_generated_columns(connection, table, report);
  check_leftovers(connection, table, report);
  check_cut_over_guard(connection, report);
  check_binlog_retention(connection, report);
  return report;
}

}  // namespace sluice::mysql

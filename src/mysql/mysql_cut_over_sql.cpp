#include "src/mysql/mysql_cut_over_sql.h"

#include "src/mysql/mysql_shadow_sql.h"
#include "src/mysql/mysql_sql.h"

namespace sluice::mysql {

std::string create_sentry_sql(const ddl::QualifiedName& swap) {
  return "CREATE TABLE " + quote(swap) + " (sentry INT) COMMENT = '" + std::string(kSentryComment) +
         "'";
}

std::string comparable_definition(const std::string& show_create) {
  // The table options follow the last closing parenthesis of the column and index list.
  std::string text = show_create;
  const std::string option = " AUTO_INCREMENT=";
  const std::size_t options = text.rfind(')');
  const std::size_t at = text.find(option, options == std::string::npos ? 0 : options);
  if (at != std::string::npos) {
    std::size_t end = at + option.size();
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      ++end;
    }
    text.erase(at, end - at);
  }
  return text;
}

std::string binlog_events_sql(const std::string& file_literal, std::uint64_t offset,
                              std::uint64_t skip, std::uint64_t count) {
  return "SHOW BINLOG EVENTS IN " + file_literal +
         (offset > 0 ? " FROM " + std::to_string(offset) : std::string()) + " LIMIT " +
         std::to_string(skip) + ", " + std::to_string(count);
}

std::optional<std::uint64_t> end_of_statement(const std::vector<std::optional<std::string>>& event,
                                              const std::string& statement) {
  if (event.size() < 6 || event[2].value_or("") != "Query" || !event[4] || !event[5]) {
    return std::nullopt;
  }
  if (event[5]->find(statement) == std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(*event[4]);
}

std::optional<std::string> gtid_of_event(const std::vector<std::optional<std::string>>& event) {
  if (event.size() < 6 || event[2].value_or("") != "Gtid" || !event[5]) {
    return std::nullopt;
  }
  const std::string& info = *event[5];
  const std::size_t at = info.find("GTID ");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const std::size_t start = at + 5;
  return info.substr(start, info.find(' ', start) - start);
}

std::vector<TableLockRequest> cut_over_locks(const MysqlTablePlan& plan) {
  return {{plan.source.name, LockMode::exclusive},
          {plan.swap, LockMode::exclusive},
          {plan.shadow, LockMode::exclusive}};
}

std::string swap_rename_sql(const MysqlTablePlan& plan) {
  return "RENAME TABLE " + quote(plan.source.name) + " TO " + quote(plan.swap) + ", " +
         quote(plan.shadow) + " TO " + quote(plan.source.name);
}

std::string rename_queued_sql(unsigned long session_id) {
  return "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = " + std::to_string(session_id) +
         " AND STATE LIKE 'Waiting for table metadata lock%'";
}

std::string metadata_lock_view_sql() {
  return "SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND "
         "PLUGIN_STATUS = 'ACTIVE'";
}

std::string process_privilege_probe_sql() {
  return "SELECT 1 FROM information_schema.INNODB_TRX LIMIT 0";
}

std::string readers_before_write_sql(const std::string& schema_literal,
                                     const std::string& name_literal) {
  return "SELECT THREAD_ID FROM information_schema.METADATA_LOCK_INFO WHERE LOCK_TYPE = 'Table "
         "metadata lock' AND TABLE_SCHEMA = " +
         schema_literal + " AND TABLE_NAME = " + name_literal +
         " GROUP BY THREAD_ID HAVING MIN(LOCK_MODE IN ('MDL_SHARED', 'MDL_SHARED_HIGH_PRIO', "
         "'MDL_SHARED_READ')) = 1";
}

std::string guarded_lock_sql(const std::string& lock_literal, const std::string& readers_sql) {
  return "BEGIN NOT ATOMIC IF EXISTS (" + readers_sql +
         ") THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a session read the table and has "
         "not written it yet'; END IF; EXECUTE IMMEDIATE " +
         lock_literal + "; END";
}

std::string kill_query_sql(unsigned long session_id) {
  return "KILL QUERY " + std::to_string(session_id);
}

}  // namespace sluice::mysql

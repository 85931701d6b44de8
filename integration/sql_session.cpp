#include "integration/sql_session.h"

#include "ddl/identifier.h"
#include "src/mysql/mysql_connection.h"
#include "src/postgres/pg_connection.h"
#include "src/postgres/pg_rebuild_sql.h"

namespace sluice::test {
namespace {

class MysqlSession : public SqlSession {
 public:
  MysqlSession(const Dsn& dsn, const std::optional<std::string>& password)
      : connection_(dsn, password) {}
  void execute(const std::string& sql) override { connection_.execute(sql); }
  Rows query(const std::string& sql) override { return connection_.query(sql); }
  std::string literal(const std::string& text) override { return connection_.quote_literal(text); }
  std::string quote(const std::string& name) override {
    return ddl::quote_identifier(ddl::Dialect::mysql, name);
  }

 private:
  mysql::Connection connection_;
};

class PostgresSession : public SqlSession {
 public:
  PostgresSession(const Dsn& dsn, const std::optional<std::string>& password)
      : connection_(dsn, password) {}
  void execute(const std::string& sql) override { connection_.execute(sql); }
  Rows query(const std::string& sql) override { return connection_.query(sql); }
  std::string literal(const std::string& text) override { return postgres::quote_literal(text); }
  std::string quote(const std::string& name) override {
    return ddl::quote_identifier(ddl::Dialect::postgres, name);
  }

 private:
  postgres::Connection connection_;
};

}  // namespace

std::string SqlSession::value(const std::string& sql) {
  const Rows rows = query(sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0].value_or("");
}

std::unique_ptr<SqlSession> open_session(const Dsn& dsn,
                                         const std::optional<std::string>& password) {
  if (dsn.kind == ServerKind::postgres) {
    return std::make_unique<PostgresSession>(dsn, password);
  }
  return std::make_unique<MysqlSession>(dsn, password);
}

}  // namespace sluice::test

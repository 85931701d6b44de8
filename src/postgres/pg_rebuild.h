#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/dsn.h"
#include "src/postgres/pg_connection.h"
#include "src/rebuild_backend.h"

namespace sluice::postgres {

// The RebuildBackend for PostgreSQL 15: a shadow table made with CREATE TABLE … (LIKE …
// INCLUDING ALL) plus the user's ALTER, with the table's comment, storage parameters, owner,
// grants, row-level security policies and triggers (disabled until the swap), its
// non-constraint indexes built after the bulk copy; a chunked INSERT … SELECT copy in key order
// that converts each changed column by its USING expression or a cast; a publication and
// logical replication slot (sluice_alter_<table oid>) created before the copy for the change
// stream, unchanged-TOAST values filled in from the shadow or the source; chunk checksums
// (count and bit_xor of hash_record_extended) inside one exported snapshot of both tables; and
// a cut-over in one transaction under ACCESS EXCLUSIVE with a bounded lock_timeout that also
// carries identity and owned sequences, index names, the replica identity and the
// application's publications over to the new table.
//
// Foreign keys to and from the table are re-created on the new table inside the swap (NOT
// VALID) and validated after it; views reading the table are re-created with CREATE OR REPLACE
// VIEW inside the swap. Refused up front (sluice check explains each): self-referencing foreign
// keys, materialized views, views reading a column the ALTER drops or changes, and keys other
// than integer or numeric columns.
class PgRebuild : public RebuildBackend {
 public:
  PgRebuild(const Dsn& dsn, const std::optional<std::string>& password);

  ddl::QualifiedName resolve_table(const std::string& table) override;
  const RebuildPlan& plan(const RebuildOptions& options) override;
  bool apply_in_place(const RebuildOptions& options) override;
  void create_shadow() override;
  bool complete_interrupted_swap(const std::string& table) override;
  void attach_shadow() override;
  void drop_shadow() override;
  void reconnect() override;
  replication::Position log_position() override;
  std::unique_ptr<replication::ChangeStream> open_stream(
      const replication::Position& start) override;
  std::unique_ptr<VerifySnapshots> open_verify_snapshots(const DrainTo& drain_to) override;
  void recopy(const Mismatch& range) override;
  CutOverResult cut_over(const RebuildOptions& options, const DrainTo& drain_to) override;
  void drop_old_table() override;

  std::optional<replication::Row> chunk_end(const std::optional<replication::Row>& after,
                                            std::uint64_t rows) override;
  std::uint64_t copy_range(const std::optional<replication::Row>& after,
                           const replication::Row& up_to) override;
  void replace_rows(const std::vector<replication::Row>& delete_keys,
                    const std::vector<replication::Row>& rows,
                    const std::vector<replication::Row>& fill_from) override;

  std::vector<std::string> cleanup(const std::string& table) override;

 private:
  class Snapshots;
  // A key range as SQL with its parameters.
  struct Predicate {
    std::string sql;
    Params params;
  };
  // A sequence feeding a column of the table: an identity column's own sequence (the shadow has
  // a new one, which must continue where the old one stands) or a serial's owned sequence (the
  // shadow's default already calls it; only its ownership moves).
  struct SequenceMove {
    std::string column;
    std::string source;  // as pg_get_serial_sequence prints it: quoted, schema-qualified
    std::string source_name;
    std::optional<std::string> shadow;  // the shadow's identity sequence, quoted
  };

  std::unique_ptr<Connection> open_session();
  // Runs `unit` again on new sessions when its connection is lost (options_.reconnect).
  template <typename Unit>
  auto reconnecting(const char* what, Unit unit);
  std::optional<replication::Row> find_chunk_end(const std::optional<replication::Row>& after,
                                                 std::uint64_t rows);
  std::uint64_t copy_range_once(const std::optional<replication::Row>& after,
                                const replication::Row& up_to);
  void write_batch(const std::vector<replication::Row>& delete_keys,
                   const std::vector<replication::Row>& rows,
                   const std::vector<replication::Row>& fill_from);
  bool table_exists(const ddl::QualifiedName& name);
  std::optional<std::string> oid_of(const ddl::QualifiedName& name);
  std::string slot_name(const std::string& table_oid) const;
  void describe_source(const ddl::QualifiedName& table);
  // Reads the shadow's columns, how each is computed from the source, and the sequences to
  // carry over; throws Error(ExitCode::usage) when a mapped column is missing from it.
  void describe_shadow();
  std::vector<std::string> copy_statements(const ddl::QualifiedName& table);
  Predicate range(const std::optional<replication::Row>& after,
                  const replication::Row& up_to) const;
  // The keys after `after`, all keys when nullopt.
  Predicate keys_after(const std::optional<replication::Row>& after) const;
  // INSERT … SELECT of the source's rows matching `where` into the shadow.
  std::string copy_statement(const std::string& where) const;
  std::optional<replication::Row> read_key(Connection& connection, const std::string& sql,
                                           const Params& params);
  std::optional<replication::Row> offset_chunk_end(Connection& connection,
                                                   const std::optional<replication::Row>& after,
                                                   std::uint64_t rows);
  // A row image ready to insert: its unchanged-TOAST values filled in.
  struct Completed {
    replication::Row values;
    std::vector<bool> from_shadow;  // per value: read from the shadow, already converted
    bool keep = true;               // false: the row is gone from the source, skip it
  };
  // Fills unchanged-TOAST values of `rows` from the shadow rows under `fill_from`, else from the
  // source.
  std::vector<Completed> fill_unchanged(const std::vector<replication::Row>& rows,
                                        const std::vector<replication::Row>& fill_from);
  void insert_rows(const std::vector<Completed>& rows);
  // Inserts the rows `rows` (a SELECT of the shadow's columns, with `params`) into the shadow;
  // rows of the shadow that hold one of their values of a unique index are deleted first.
  void insert_replacing(const std::string& rows, const Params& params);
  // The columns (quoted) of each unique index of the shadow other than its primary key.
  const std::vector<std::vector<std::string>>& shadow_unique_columns();
  // What the swap re-creates on the new table: foreign keys to and from it (NOT VALID inside
  // the swap, validated after it) and views reading it.
  struct Dependent {
    enum class Kind { foreign_key, view };
    Kind kind = Kind::foreign_key;
    std::string table;       // foreign key: the table it is on after the swap, quoted
    std::string old_table;   // foreign key: the table it is on before the swap, quoted
    std::string name;        // constraint name, or the view's qualified name, quoted
    std::string definition;  // pg_get_constraintdef / pg_get_viewdef
    std::string options;     // view: reloptions ("security_barrier=true")
    bool validate = false;   // foreign key: valid before, so validated after the swap
  };
  std::vector<Dependent> read_dependents(Connection& lock);
  std::vector<std::string> recreate_dependents(const std::vector<Dependent>& dependents);
  void validate_foreign_keys(const std::vector<Dependent>& dependents);
  std::vector<std::string> carry_identity_and_publications(Connection& lock);
  void build_deferred_indexes(Connection& connection);
  bool try_cut_over(const RebuildOptions& options, const DrainTo& drain_to,
                    std::chrono::milliseconds& write_block, std::vector<Dependent>& recreated);
  std::vector<std::string> index_renames(Connection& connection);

  Dsn dsn_;
  std::optional<std::string> password_;
  std::unique_ptr<Connection> main_;
  std::unique_ptr<Connection> apply_;
  RebuildOptions options_;
  RebuildPlan plan_;
  std::string table_oid_;
  std::vector<std::string> source_types_;  // format_type() of each source column
  std::string quoted_source_;
  std::string quoted_shadow_;
  std::string target_columns_;                   // the mapped columns, quoted, comma separated
  std::string select_columns_;                   // per mapped column, the value for the new column
  std::string values_columns_;                   // the mapped columns' names for a VALUES alias
  std::vector<std::string> select_expressions_;  // select_columns_, one per mapped column
  std::optional<std::vector<std::vector<std::string>>> shadow_unique_columns_;
  std::vector<std::string> shadow_types_;  // format_type() of each mapped shadow column
  std::string shadow_hashed_;  // the shadow's mapped columns as verification hashes them
  std::string source_hashed_;  // the same values computed from the source
  std::vector<std::string> deferred_indexes_;  // CREATE INDEX statements run after the copy
  std::vector<std::string> key_;               // key columns, quoted
  std::vector<std::size_t> key_in_mapped_;     // where each key column sits in a mapped image
  std::vector<SequenceMove> sequences_;
  bool force_row_security_ = false;
  std::chrono::steady_clock::duration apply_time_{};  // spent in replace_rows, for the logs
  // The original's triggers (quoted name, pg_trigger.tgenabled), re-enabled alike at the swap.
  std::vector<std::pair<std::string, std::string>> triggers_;
};

}  // namespace sluice::postgres

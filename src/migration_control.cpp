#include "src/migration_control.h"

namespace sluice {
namespace {

class PassiveControl : public MigrationControl {
 public:
  void event(MigrationEvent, const MigrationStatus&) override {}
  void status(const MigrationStatus&) override {}
  void wait_while_throttled(MigrationStatus&, const std::function<void(bool)>&) override {}
  std::optional<std::uint64_t> chunk_rows() override { return std::nullopt; }
  void wait_for_cut_over(MigrationStatus&, const std::function<void(bool)>&) override {}
  std::optional<std::string> abort_reason() const override { return std::nullopt; }
};

}  // namespace

const char* phase_name(MigrationPhase phase) {
  switch (phase) {
    case MigrationPhase::starting:
      return "starting";
    case MigrationPhase::copy:
      return "copy";
    case MigrationPhase::verify:
      return "verify";
    case MigrationPhase::waiting:
      return "waiting";
    case MigrationPhase::cut_over:
      return "cut-over";
    case MigrationPhase::done:
      return "done";
    case MigrationPhase::aborted:
      return "aborted";
    case MigrationPhase::failed:
      return "failed";
  }
  return "unknown";
}

MigrationControl& passive_control() {
  static PassiveControl control;
  return control;
}

}  // namespace sluice

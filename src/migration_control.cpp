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

const char* step_name(RunStep step) {
  switch (step) {
    case RunStep::starting:
      return "starting";
    case RunStep::copy:
      return "copy";
    case RunStep::verify:
      return "verify";
    case RunStep::waiting:
      return "waiting";
    case RunStep::cut_over:
      return "cut-over";
    case RunStep::done:
      return "done";
    case RunStep::aborted:
      return "aborted";
    case RunStep::failed:
      return "failed";
  }
  return "unknown";
}

MigrationControl& passive_control() {
  static PassiveControl control;
  return control;
}

}  // namespace sluice

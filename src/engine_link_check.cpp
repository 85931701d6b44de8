// Linked with every object of the engine library and neither server family (src/CMakeLists.txt):
// the link fails when engine code calls into src/mysql/ or src/postgres/, which must reach the
// engine only through ServerFamily (docs/architecture.md). It is never run.
int main() {
  return 0;
}

#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::test {

// One fenced code block of a documentation file.
struct DocExample {
  std::string where;     // "docs/migrations.md:24"
  std::string language;  // what follows the opening fence: "ini", "json"
  std::string text;
};

// Every block fenced as ```ini or ```json in `file` (a path below `root`), in order. The
// migration-file examples of README.md and docs/migrations.md are exactly these blocks, so a
// test over them covers every example a user may copy.
inline std::vector<DocExample> migration_examples(const std::string& root,
                                                  const std::string& file) {
  std::ifstream in(root + "/" + file);
  std::vector<DocExample> examples;
  std::string line;
  int number = 0;
  DocExample* open = nullptr;
  while (std::getline(in, line)) {
    ++number;
    if (open != nullptr) {
      if (line.rfind("```", 0) == 0) {
        open = nullptr;
      } else {
        open->text += line + "\n";
      }
    } else if (line == "```ini" || line == "```json") {
      examples.push_back({file + ":" + std::to_string(number), line.substr(3), ""});
      open = &examples.back();
    }
  }
  return examples;
}

}  // namespace sluice::test

#pragma once

// A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: promtool is
// not packaged in Debian 12, so the metrics file is checked against the format's grammar here.
// Used by the unit tests and by the integration test that scrapes a running migration.

#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sluice::test {

// Parses `text`; returns each sample's value keyed by its series as written
// (`name{label="value",…}`). Throws std::runtime_error naming the line when the text breaks
// the grammar: a line that is neither `# HELP`, `# TYPE` nor a sample, a name or label that is
// not [a-zA-Z_:][a-zA-Z0-9_:]* / [a-zA-Z_][a-zA-Z0-9_]*, a bad escape in a label value, a value
// that is not a float, a sample before its family's TYPE, a TYPE twice or after its samples,
// an unknown type, a duplicate series, a missing final newline.
inline std::map<std::string, double> parse_prometheus_text(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*,?\})? ([^ ]+)( -?[0-9]+)?)");
  static const std::regex number(R"([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))");
  if (!text.empty() && text.back() != '\n') {
    throw std::runtime_error("the text does not end with a newline");
  }
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  std::set<std::string> sampled;
  std::istringstream lines(text);
  std::string line;
  int number_of_line = 0;
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error("line " + std::to_string(number_of_line) + " (" + line + "): " + why);
  };
  while (std::getline(lines, line)) {
    ++number_of_line;
    std::smatch match;
    if (line.empty() || std::regex_match(line, help)) {
      continue;
    }
    if (std::regex_match(line, match, type)) {
      if (!typed.insert(match[1]).second || sampled.count(match[1])) {
        fail("TYPE repeated or after the family's samples");
      }
      continue;
    }
    if (line.front() == '#') {
      continue;  // any other comment
    }
    if (!std::regex_match(line, match, sample)) {
      fail("not a sample");
    }
    const std::string name = match[1];
    // A histogram's or summary's samples carry suffixes; this format has neither.
    if (!typed.count(name)) {
      fail("sample before its TYPE line");
    }
    sampled.insert(name);
    const std::string value = match[7];
    if (!std::regex_match(value, number)) {
      fail("value is not a number");
    }
    const std::string series = name + std::string(match[2]);
    if (!samples.emplace(series, std::strtod(value.c_str(), nullptr)).second) {
      fail("duplicate series");
    }
  }
  return samples;
}

}  // namespace sluice::test

#include "cli/options.h"

#include <filesystem>
#include <iostream>

#include "cli/config_file.h"
#include "src/error.h"

namespace sluice::cli {

namespace po = boost::program_options;

bool parse_options(const std::vector<std::string>& args, po::options_description& description,
                   const std::string& usage, const po::positional_options_description& positional) {
  description.add_options()("help,h", po::bool_switch(), "show this help")(
      "config", po::value<std::string>(),
      "read options from this INI file (name = value lines); the command line wins");
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(description).positional(positional).run(),
              values);
    if (values.count("config")) {
      store_config_file(values["config"].as<std::string>(), description, values);
    }
    // bool_switch writes `help` only in notify(), which also enforces required options.
    if (values.count("help") && values["help"].as<bool>()) {
      std::cout << usage << "\n\n" << description << '\n';
      return false;
    }
    po::notify(values);
  } catch (const po::error& error) {
    throw Error(ExitCode::usage, std::string(error.what()) + "; see " +
                                     usage.substr(0, usage.find(" [")) + " --help");
  }
  return true;
}

void require_parent_directory(const std::string& path, const std::string& option) {
  if (path.empty()) {
    return;
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code error;
  if (!parent.empty() && !std::filesystem::is_directory(parent, error)) {
    throw Error(ExitCode::usage, option + " " + path + ": the directory " + parent.string() +
                                     " does not exist; create it or choose a path in an "
                                     "existing directory");
  }
}

void require_directory(const std::string& path, const std::string& option) {
  std::error_code error;
  if (!path.empty() && !std::filesystem::is_directory(path, error)) {
    throw Error(ExitCode::usage,
                option + " " + path + " is not a directory; give the directory that holds them");
  }
}

}  // namespace sluice::cli

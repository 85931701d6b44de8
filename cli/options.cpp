#include "cli/options.h"

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

}  // namespace sluice::cli

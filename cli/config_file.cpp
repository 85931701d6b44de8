#include "cli/config_file.h"

#include <fstream>

#include "src/error.h"

namespace sluice::cli {

namespace po = boost::program_options;

void store_config_file(const std::string& path, const po::options_description& description,
                       po::variables_map& values) {
  std::ifstream file(path);
  if (!file) {
    throw Error(ExitCode::usage,
                "cannot read the config file " + path + "; check the path given to --config");
  }
  try {
    po::store(po::parse_config_file(file, description), values);
  } catch (const po::error& error) {
    throw Error(ExitCode::usage, "config file " + path + ": " + error.what() +
                                     "; keys are option names without the leading dashes");
  }
}

}  // namespace sluice::cli

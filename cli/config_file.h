#pragma once

#include <boost/program_options.hpp>
#include <string>

namespace sluice::cli {

// Adds the options of `description` found in the INI file `path` to `values`. Options already
// in `values` (from the command line, stored first) keep their value: the command line wins.
// Keys are option names without dashes (`chunk-time = 200`, `execute = true`); `[alter]`-style
// sections prefix names, so use none. Throws Error(ExitCode::usage) for an unreadable file, an
// unknown key or a malformed value, naming the file.
void store_config_file(const std::string& path,
                       const boost::program_options::options_description& description,
                       boost::program_options::variables_map& values);

}  // namespace sluice::cli

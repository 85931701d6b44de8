#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace sluice::cli {

// Parses a sub-command's arguments against `description` (which gains --help and --config FILE,
// an INI file of the same options that the command line overrides). Prints `usage`
// and the option list and returns false when --help is given. Throws Error(ExitCode::usage) for
// unknown options, missing required ones and malformed values.
// `positional` maps bare arguments to options (e.g. `sluice status NAME`).
bool parse_options(const std::vector<std::string>& args,
                   boost::program_options::options_description& description,
                   const std::string& usage,
                   const boost::program_options::positional_options_description& positional = {});

// Throws Error(ExitCode::usage) naming `option` when the directory that would hold the file
// `path` does not exist (a relative path's is the working directory): a flag file there could
// never appear and a socket, archive or log could never be written. An empty path passes.
void require_parent_directory(const std::string& path, const std::string& option);

// Throws Error(ExitCode::usage) naming `option` unless `path` is empty or an existing directory.
void require_directory(const std::string& path, const std::string& option);

}  // namespace sluice::cli

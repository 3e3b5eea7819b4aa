// One function per `laminar` subcommand; each parses its own options and returns an exit code.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace laminar::cli {

using Args = std::vector<std::string>;

int run(const Args& args);
int validate(const Args& args);
int plugins(const Args& args);
int inspect(const Args& args);
int tokenize(const Args& args);
int hooks(const Args& args);
int report(const Args& args);
int merge(const Args& args);

/// Parses `args` against `options` (+ positionals); prints help and returns true when --help was given.
bool parse(const Args& args, const std::string& usage, boost::program_options::options_description& options,
           const boost::program_options::positional_options_description& positional,
           boost::program_options::variables_map& vm);

}  // namespace laminar::cli

// `laminar report RUN.h5 [--out DIR]`: the report page of a run file, from the run file alone
// (no experiment file, no model).
#include <iostream>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "stages/pipeline.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

int report(const Args& args) {
    po::options_description options("laminar report");
    std::string run, out;
    options.add_options()("run", po::value<std::string>(&run)->required(), "the run file (HDF5)")
                         ("out", po::value<std::string>(&out), "DIR: where to write index.html and figures/ "
                                                               "(default: beside the run file, named after it)");
    po::positional_options_description positional;
    positional.add("run", 1);
    po::variables_map vm;
    if (parse(args, "laminar report RUN.h5 [--out DIR]", options, positional, vm)) return kExitOk;
    if (vm.count("out") && out.empty()) throw InputError("--out expects a folder (got an empty string)");
    write_report_page(run, out.empty() ? report_folder(run) : std::filesystem::path(out), std::cout, true);
    return kExitOk;
}

}  // namespace laminar::cli

#include <iostream>

#include "commands.hpp"
#include "errors.hpp"
#include "experiment.hpp"
#include "plugin_registry.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

int validate(const Args& args) {
    po::options_description options("laminar validate");
    std::vector<std::string> files;
    options.add_options()("experiment", po::value<std::vector<std::string>>(&files)->required(),
                          "experiment file(s) to check");
    po::positional_options_description positional;
    positional.add("experiment", -1);
    po::variables_map vm;
    if (parse(args, "laminar validate EXPERIMENT.yaml...", options, positional, vm)) return kExitOk;

    const PluginRegistry registry;
    LoadOptions load;
    load.require_paths = false;  // model folders may live elsewhere; `run` insists on them
    int failed = 0;
    for (const auto& file : files) {
        try {
            const Experiment exp = load_experiment(file, registry, load);
            for (const auto& note : exp.notes) std::cerr << "note: " << note << "\n";
            std::cout << file << ": ok (" << exp.models.size() << " model(s), " << exp.extract.size()
                      << " extractor(s), " << exp.analyze.size() << " analysis/analyses)\n";
        } catch (const InputError& e) {
            std::cerr << e.what() << "\n";
            ++failed;
        }
    }
    return failed ? kExitUsage : kExitOk;
}

}  // namespace laminar::cli

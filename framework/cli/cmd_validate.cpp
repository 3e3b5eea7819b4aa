// `laminar validate EXP.yaml...`: everything that can be known before a run: the file against
// the schemas, plugin options, and (with the model folders there) layers, hook names and the
// spaces each analysis names against what the extractors record.
#include <iostream>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "spec/experiment.hpp"
#include "runtime/plugin_registry.hpp"
#include "spec/recording_plan.hpp"

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
            // With the model folders at hand: layers, heads and hook names as the models have them.
            std::vector<std::string> problems, notes = exp.notes;
            check_spaces(exp, registry, plan_with_models(exp, registry, problems), problems);
            for (const auto& note : notes) std::cerr << "note: " << note << "\n";
            if (!problems.empty()) {
                for (const auto& p : problems) std::cerr << p << "\n";
                ++failed;
                continue;
            }
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

#include <iostream>

#include "commands.hpp"
#include "errors.hpp"
#include "experiment.hpp"
#include "pipeline.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

namespace {

/// The file a run writes: symbolic links followed (also a dangling one, to the file it names),
/// so that the lock and the rename act on the real file, whichever name a run was given.
std::filesystem::path real_output(const std::filesystem::path& given) {
    namespace fs = std::filesystem;
    fs::path p = fs::absolute(given);
    for (int hops = 0; fs::is_symlink(p); ++hops) {
        if (hops == 40) throw InputError(given.string() + ": too many levels of symbolic links");
        const fs::path target = fs::read_symlink(p);
        p = target.is_absolute() ? target : p.parent_path() / target;
    }
    return fs::weakly_canonical(p);
}

}  // namespace

int run(const Args& args) {
    po::options_description options("laminar run");
    std::string stage;
    std::vector<std::string> models;
    options.add_options()
        ("experiment", po::value<std::string>()->required(), "the experiment file (YAML)")
        ("stage", po::value<std::string>(&stage), "run only this stage: extract, analyze or report")
        ("force", "run the stage(s) even when their inputs are unchanged")
        ("out", po::value<std::string>(), "the run file to write (default: the experiment's `output`)")
        ("model", po::value<std::vector<std::string>>(&models)->composing(),
         "ID=PATH: load model ID from PATH instead of the experiment's path (repeatable)");
    po::positional_options_description positional;
    positional.add("experiment", 1);
    po::variables_map vm;
    if (parse(args, "laminar run EXPERIMENT.yaml [--stage extract|analyze|report] [--force] [--out FILE] "
                    "[--model ID=PATH]...", options, positional, vm))
        return kExitOk;

    LoadOptions load;
    for (const auto& m : models) {
        const auto eq = m.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
            throw InputError("--model expects ID=PATH (got '" + m + "')");
        load.model_paths[m.substr(0, eq)] = m.substr(eq + 1);
    }
    // Only the extract stage loads models: the other stages run without the model folders.
    load.require_paths = stage.empty() || stage == "extract";
    load.stage = stage;
    const PluginRegistry registry;
    const Experiment exp = load_experiment(vm["experiment"].as<std::string>(), registry, load);
    RunOptions run_options;
    run_options.stage = stage;
    run_options.force = vm.count("force") > 0;
    if (vm.count("out") && vm["out"].as<std::string>().empty())
        throw InputError("--out expects a file path (got an empty string)");
    run_options.output = real_output(vm.count("out") ? std::filesystem::path(vm["out"].as<std::string>()) : exp.output);
    for (const auto& note : exp.notes) std::cerr << "note: " << note << "\n";
    run_experiment(exp, registry, run_options, std::cout);
    return kExitOk;
}

}  // namespace laminar::cli

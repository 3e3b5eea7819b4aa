#include <iostream>
#include <streambuf>

#include <boost/dll/runtime_symbol_info.hpp>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "spec/experiment.hpp"
#include "stages/pipeline.hpp"
#include "runtime/ranks.hpp"

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

/// The command line as a shell would take it back: what the report page shows to reproduce a run.
std::string command_line(const Args& args) {
    auto quote = [](const std::string& s) {
        if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/=:+@") == std::string::npos)
            return s;
        std::string q = "'";
        for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
    };
    std::string line = "cd " + quote(std::filesystem::current_path().string()) + " && " +
                       quote(boost::dll::program_location().string()) + " run";
    for (const auto& a : args) line += " " + quote(a);
    return line;
}

/// Passes on only the lines that start with "warning:" or "note:" (--quiet).
class WarningsOnly : public std::streambuf {
public:
    explicit WarningsOnly(std::ostream& to) : to_(to) {}
    ~WarningsOnly() override { sync(); }

protected:
    int overflow(int c) override {
        if (c == EOF) return 0;
        line_ += static_cast<char>(c);
        if (c == '\n') sync();
        return c;
    }
    int sync() override {
        if (line_.rfind("warning:", 0) == 0 || line_.rfind("note:", 0) == 0) to_ << line_ << std::flush;
        line_.clear();
        return 0;
    }

private:
    std::ostream& to_;
    std::string line_;
};

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
         "ID=PATH: load model ID from PATH instead of the experiment's path (repeatable)")
        ("shard", po::value<std::string>(), "K/N: one N-th of the first stage not up to date (K from 0), into a shard "
                                             "file beside the run file (a job array; `laminar merge` assembles them)")
        ("profile", po::value<std::string>()->implicit_value(""),
         "[FILE]: print where each analysis's time went, per statistic and thread (and write it to FILE as JSON)")
        ("quiet,q", "print only warnings and errors (no progress, no stage lines)")
        ("verbose,v", "progress of every batch and every space, also in logs");
    po::positional_options_description positional;
    positional.add("experiment", 1);
    po::variables_map vm;
    if (parse(args, "laminar run EXPERIMENT.yaml [--stage extract|analyze|report] [--force] [--out FILE] "
                    "[--model ID=PATH]... [--shard K/N] [--profile [FILE]] [--quiet|--verbose]", options, positional, vm))
        return kExitOk;

    LoadOptions load;
    for (const auto& m : models) {
        const auto eq = m.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
            throw InputError("--model expects ID=PATH (got '" + m + "')");
        const std::string id = m.substr(0, eq);
        if (const auto it = load.model_paths.find(id); it != load.model_paths.end())
            throw InputError("--model names model '" + id + "' twice (" + id + "=" + it->second + " and " + m +
                             "); give each model id once");
        load.model_paths[id] = m.substr(eq + 1);
    }
    // Only the extract stage loads models: the other stages run without the model folders.
    load.require_paths = stage.empty() || stage == "extract";
    load.stage = stage;
    const PluginRegistry registry;
    const Experiment exp = load_experiment(vm["experiment"].as<std::string>(), registry, load);
    RunOptions run_options;
    run_options.stage = stage;
    run_options.force = vm.count("force") > 0;
    if (vm.count("quiet") && vm.count("verbose")) throw InputError("--quiet and --verbose exclude each other");
    run_options.verbosity = vm.count("quiet") ? Verbosity::quiet : vm.count("verbose") ? Verbosity::verbose : Verbosity::normal;
    if (ranks::rank() > 0) run_options.verbosity = Verbosity::quiet;  // under mpirun, rank 0 tells the story
    run_options.command = command_line(args);
    if (vm.count("shard")) run_options.shard = parse_shard(vm["shard"].as<std::string>());
    if (vm.count("profile")) {
        const std::filesystem::path file = vm["profile"].as<std::string>();
        if (file.extension() == ".yaml" || file.extension() == ".yml")  // `run --profile exp.yaml` took the experiment
            throw InputError("--profile " + file.string() + ": --profile [FILE] writes JSON to FILE, not an experiment "
                             "(put the experiment first: laminar run EXPERIMENT.yaml --profile)");
        run_options.profile = file;
    }
    if (vm.count("out") && vm["out"].as<std::string>().empty())
        throw InputError("--out expects a file path (got an empty string)");
    // "x.h5/" names a folder: the run would create one by that name and write the run file in it.
    if (vm.count("out") && vm["out"].as<std::string>().back() == '/')
        throw InputError("--out: a run file path must not end in '/' (got '" + vm["out"].as<std::string>() + "')");
    run_options.output = real_output(vm.count("out") ? std::filesystem::path(vm["out"].as<std::string>()) : exp.output);
    for (const auto& note : exp.notes) std::cerr << "note: " << note << "\n";
    // Every line reaches a log file when it is written, not when the run ends.
    std::cout << std::unitbuf;
    WarningsOnly warnings_only(std::cout);
    std::ostream quiet(&warnings_only);
    run_experiment(exp, registry, run_options, run_options.verbosity == Verbosity::quiet ? quiet : std::cout);
    return kExitOk;
}

}  // namespace laminar::cli

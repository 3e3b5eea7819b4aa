#include "stages/pipeline.hpp"

#include <optional>

#include "runtime/errors.hpp"
#include "runtime/ranks.hpp"
#include "store/run_file.hpp"
#include "stages/stages.hpp"

namespace laminar {

namespace {

/// Holds `file`'s lock for the run and discards the `.partial` an interrupted run left of it.
class Holding {
public:
    Holding(const std::filesystem::path& file, std::ostream& log) : lock_(file) {
        if (!std::filesystem::exists(RunTransaction::partial_path(file))) return;
        std::filesystem::remove(RunTransaction::partial_path(file));
        log << "note: discarded " << RunTransaction::partial_path(file).string() << ", left by an interrupted run; "
            << (std::filesystem::exists(file) ? file.string() + " is as its last completed stage left it\n"
                                              : "no stage had completed, so there is no run file yet\n");
    }

private:
    RunLock lock_;
};

void report(const RunOptions& options, std::ostream& log) {
    print_summary(options.output, log);
    write_report_page(options.output, report_folder(options.output), log, options.force);
}

/// Under `mpirun -n N`: each rank extracts its shard of the stimuli, and rank 0 merges the shards
/// into the run file (the stage's own merge of found shards); then every rank runs each analysis
/// with the others, sharing out its sites, layers and permutation blocks, and rank 0 writes it.
void run_ranked(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log) {
    const bool first = ranks::rank() == 0;
    RunOptions mine = options;
    mine.shard = Shard{static_cast<std::size_t>(ranks::rank()), static_cast<std::size_t>(ranks::size())};
    std::optional<Holding> run_file;
    if (first) run_file.emplace(options.output, log);  // rank 0 alone writes the run file
    Holding shard_file(shard_path(options.output, mine.shard), log);
    const std::string& s = options.stage;
    if (s.empty() || s == "extract") {
        bool complete = false;
        ranks::together([&] { complete = run_extract(exp, registry, mine, log); });  // the same on every rank
        if (!complete) ranks::together([&] { if (first) run_extract(exp, registry, options, log); });  // merges
    }
    if (s.empty() || s == "analyze") {
        const auto team = ranks::world();
        ranks::together([&] { run_analyze(exp, registry, options, log, *team); });
    }
    if (first && (s.empty() || s == "report")) report(options, log);
}

}  // namespace

void run_experiment(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options,
                    std::ostream& log) {
    const std::string& s = options.stage;
    if (!s.empty() && s != "extract" && s != "analyze" && s != "report")
        throw InputError("--stage must be extract, analyze or report (got '" + s + "')");
    require_writable(options.output);  // before any stage, even one that finds itself up to date
    // The results of another experiment are not replaced by a mistyped --out: --force says so.
    if (const auto theirs = recorded_experiment(options.output); theirs && *theirs != exp.name && !options.force)
        throw InputError(options.output.string() + " holds the results of experiment '" + *theirs + "', not of '" + exp.name +
                         "' (" + exp.document.file().string() + "); refusing to replace them (choose another --out, or "
                         "add --force to replace them)");
    if (ranks::size() > 1) {
        if (options.shard.active()) throw InputError("--shard is for job arrays without MPI: under mpirun, each rank takes its share");
        run_ranked(exp, registry, options, log);
        return;
    }
    // Shards of a job array run side by side: each holds its own file, not the run file.
    Holding held(options.shard.active() ? shard_path(options.output, options.shard) : options.output, log);
    if (s.empty() || s == "extract")
        if (!run_extract(exp, registry, options, log)) return;  // a shard of the extraction: nothing to analyse yet
    if (s.empty() || s == "analyze") run_analyze(exp, registry, options, log);
    if (options.shard.active()) return;  // the report is the merged run's
    if (s.empty() || s == "report") report(options, log);
}

}  // namespace laminar

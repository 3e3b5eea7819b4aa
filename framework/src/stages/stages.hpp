// The stages, each given the experiment and the run file path (internal to the host). They call
// down to spec/ and store/ only, never back up into the pipeline that schedules them.
#pragma once

#include "laminar/team.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "runtime/plugin_registry.hpp"
#include "runtime/progress.hpp"
#include "spec/experiment.hpp"
#include "store/h5.hpp"
#include "store/run_stamp.hpp"
#include "store/shards.hpp"

namespace laminar {

/// How a run goes: which stage, where to, how loudly (from `laminar run`'s options).
struct RunOptions {
    std::string stage;            ///< "extract", "analyze", "report", or empty for all three
    bool force = false;           ///< run the stage(s) even when their inputs are unchanged
    std::filesystem::path output; ///< the run file (from --out or the experiment's `output`)
    Verbosity verbosity = Verbosity::normal;
    std::string command;          ///< the command line that runs this, recorded with each stage it completes
    Shard shard;                  ///< --shard K/N: one N-th of the first stage not up to date, into a shard file
    /// --profile [FILE]: print where each analysis's time went (runtime/profile.hpp), and write it
    /// to FILE as JSON when one is given ("": print only)
    std::optional<std::filesystem::path> profile;
};

/// Returns whether the run file's activations are then complete (a shard's are not).
bool run_extract(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log);
/// With a team of several ranks (mpirun), every rank runs each analysis with the others and rank
/// 0 alone writes the run file.
void run_analyze(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log,
                 const Team& team = Alone());

/// Hash of what the extraction depends on in the experiment file (models, stimuli, extractors,
/// plugin versions), stored as /stages/extract's spec_hash: analyze compares it.
std::string extraction_spec_hash(const Experiment& exp, const PluginRegistry& registry);

/// Seconds since `start`.
inline double elapsed(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace laminar

// The three stages, each given the experiment and the run file path (internal to the host).
#pragma once

#include "laminar/team.hpp"

#include <chrono>
#include <ostream>

#include "store/h5.hpp"
#include "stages/pipeline.hpp"

namespace laminar {

/// Returns whether the run file's activations are then complete (a shard's are not).
bool run_extract(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log);
/// With a team of several ranks (mpirun), every rank runs each analysis with the others and rank
/// 0 alone writes the run file.
void run_analyze(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log,
                 const Team& team = Alone());

/// Hash of what the extraction depends on in the experiment file (models, stimuli, extractors,
/// plugin versions), stored as /stages/extract's spec_hash: analyze compares it.
std::string extraction_spec_hash(const Experiment& exp, const PluginRegistry& registry);

/// Stamps the root attributes (laminar_version, experiment, spec, spec_hash, created, updated).
void stamp_root(hid_t file, const Experiment& exp);

/// Seconds since `start`.
inline double elapsed(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Turns a plugin's SpecError into an InputError that points into the experiment file.
[[noreturn]] void rethrow_in_file(const Experiment& exp, const std::string& pointer, const SpecError& err);

}  // namespace laminar

// The stage scheduler: extract -> analyze -> report, each skipped when its inputs are unchanged.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "experiment.hpp"
#include "plugin_registry.hpp"

namespace laminar {

struct RunOptions {
    std::string stage;            ///< "extract", "analyze", "report", or empty for all three
    bool force = false;           ///< run the stage(s) even when their inputs are unchanged
    std::filesystem::path output; ///< the run file (from --out or the experiment's `output`)
};

/// Throws InputError for problems the user must fix (exit 2), anything else for failures (exit 1).
void run_experiment(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options,
                    std::ostream& log);

/// The `report` stage: a table of every scalar result in a run file.
void print_summary(const std::filesystem::path& run_file, std::ostream& out);

}  // namespace laminar

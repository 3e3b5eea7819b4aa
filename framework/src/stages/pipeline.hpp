// The stage scheduler: extract -> analyze -> report, each skipped when its inputs are unchanged.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "spec/experiment.hpp"
#include "runtime/plugin_registry.hpp"
#include "stages/stages.hpp"

namespace laminar {

/// Throws InputError for problems the user must fix (exit 2), anything else for failures (exit 1).
void run_experiment(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options,
                    std::ostream& log);

/// The `report` stage's lines: each analysis's headline numbers (the first rows of each).
void print_summary(const std::filesystem::path& run_file, std::ostream& out);

/// The folder holding the `laminar` Python package that draws report pages (the build's, the
/// installation's, else the sources'); empty when none has it (then Python's own path).
std::filesystem::path python_package_dir();

/// Where `run` puts a run file's report page: runs/demo.h5 -> runs/demo/.
std::filesystem::path report_folder(const std::filesystem::path& run_file);

/// Writes DIR/index.html and DIR/figures/ from the run file alone (python3 -m laminar.report);
/// throws std::runtime_error when Python or its packages fail. Cached like the other stages:
/// unless `redraw`, a page drawn from the same stages with the same code is kept as it is.
void write_report_page(const std::filesystem::path& run_file, const std::filesystem::path& dir, std::ostream& log,
                       bool redraw);

}  // namespace laminar

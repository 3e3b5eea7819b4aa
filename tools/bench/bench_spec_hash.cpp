// Prints the extraction spec hash of an experiment file: what `laminar run --stage analyze`
// checks a run file's /stages/extract@spec_hash against. The analysis benchmarks write run files
// of generated activations (no model could make 20,000 prompts' worth in seconds) and stamp
// them with it, so that laminar analyses them as if its extract stage had written them.
#include <filesystem>
#include <iostream>
#include <vector>

#include "spec/experiment.hpp"
#include "runtime/plugin_registry.hpp"
#include "stages/stages.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: laminar_bench_spec_hash EXPERIMENT.yaml\n";
        return 2;
    }
    try {
        // The build's plugins first (the bench lives in tools/bench, not beside them), then
        // what laminar itself searches (LAMINAR_PLUGIN_PATH: a plugin built out of tree).
        std::vector<std::filesystem::path> path = {LAMINAR_BENCH_PLUGIN_DIR};
        for (auto& dir : laminar::PluginRegistry::default_search_path()) path.push_back(std::move(dir));
        const laminar::PluginRegistry registry(path);
        laminar::LoadOptions options;
        options.stage = "analyze";
        std::cout << laminar::extraction_spec_hash(laminar::load_experiment(argv[1], registry, options), registry) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

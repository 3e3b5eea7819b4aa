// Prints the extraction spec hash of an experiment file: what `laminar run --stage analyze`
// checks a run file's /stages/extract@spec_hash against. The analysis benchmarks write run files
// of generated activations (no model could make 20,000 prompts' worth in seconds) and stamp
// them with it, so that laminar analyses them as if its extract stage had written them.
#include <iostream>

#include "experiment.hpp"
#include "plugin_registry.hpp"
#include "stages.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: laminar_bench_spec_hash EXPERIMENT.yaml\n";
        return 2;
    }
    try {
        const laminar::PluginRegistry registry({LAMINAR_BENCH_PLUGIN_DIR});
        laminar::LoadOptions options;
        options.stage = "analyze";
        std::cout << laminar::extraction_spec_hash(laminar::load_experiment(argv[1], registry, options), registry) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

// Times a model plugin (the one that reads the folder's config.json) on a model folder: load,
// the seed's extraction (34 prompts, q and k at block 5), and full forward passes. Prints one
// JSON object; the drivers (bench_extract.py, bench_llama.py) run the PyTorch-eager baselines
// beside it and report ratios.
#include <algorithm>
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "runtime/plugin_registry.hpp"

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <class F>
double median_seconds(int repeats, F&& f) {
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto t = Clock::now();
        f();
        times.push_back(seconds_since(t));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: laminar_bench_model MODEL_DIR [REPEATS]\n";
        return 2;
    }
    const std::string dir = argv[1];
    const int repeats = argc > 2 ? std::stoi(argv[2]) : 5;
    const laminar::PluginRegistry registry({LAMINAR_BENCH_PLUGIN_DIR});
    auto model = registry.create_model(registry.model_backend_for(dir));

    auto t = Clock::now();
    model->load(dir, nlohmann::json::object());
    const double load = seconds_since(t);
    const int n_layer = model->info().n_layer;
    const laminar::BatchSink ignore = [](const std::vector<std::size_t>&, const laminar::Captures&) {};

    // The seed: "The next word is <word>" for 34 one-token words, q and k at block 5.
    const std::vector<std::string> words = {"galaxy", "asteroid", "comet", "cosmos", "space", "sun", "planet",
        "moon", "star", "orbit", "ceiling", "sofa", "couch", "carpet", "door", "window", "lamp", "chair", "table",
        "rug", "bed", "floor", "wall", "pear", "grape", "banana", "cherry", "peach", "apple", "seed", "jelly",
        "orange", "lime", "fruit"};
    std::vector<std::vector<int32_t>> seed;
    for (const auto& w : words) seed.push_back(model->encode("The next word is " + w).ids);
    const std::vector<std::string> seed_hooks = {"blocks.5.attn.hook_q", "blocks.5.attn.hook_k"};
    model->forward(seed, {}, seed_hooks, ignore);  // first touch of the mapped weights
    const double seed_time = median_seconds(repeats, [&] { model->forward(seed, {}, seed_hooks, ignore); });

    // Full forward: every block, the residual stream after each captured (no logits).
    std::vector<std::string> all_hooks;
    for (int l = 0; l < n_layer; ++l) all_hooks.push_back("blocks." + std::to_string(l) + ".hook_resid_post");
    nlohmann::json full = nlohmann::json::array();
    for (auto [batch, length] : {std::pair{34, 5}, std::pair{8, 128}}) {
        std::vector<std::vector<int32_t>> prompts(batch, std::vector<int32_t>(length));
        for (int b = 0; b < batch; ++b)
            for (int i = 0; i < length; ++i) prompts[b][i] = (b * 7919 + i * 104729) % 30000;
        model->forward(prompts, {}, all_hooks, ignore);
        const double s = median_seconds(repeats, [&] { model->forward(prompts, {}, all_hooks, ignore); });
        full.push_back({{"batch", batch}, {"length", length}, {"seconds", s}, {"tokens_per_s", batch * length / s}});
    }
    std::cout << nlohmann::json{{"load_s", load}, {"seed_extract_s", seed_time}, {"full_forward", full}}.dump() << "\n";
    return 0;
}

// `laminar hooks --model DIR`: the hook points a model folder offers, by TransformerLens name,
// one per line in forward order (the weights are memory-mapped, not read).
#include <iostream>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "runtime/plugin_registry.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

int hooks(const Args& args) {
    po::options_description options("laminar hooks");
    std::string model, backend;
    options.add_options()
        ("model", po::value<std::string>(&model)->required(), "DIR: a Hugging Face model folder")
        ("backend", po::value<std::string>(&backend), "model plugin (default: the one that reads config.json's model_type)");
    po::variables_map vm;
    if (parse(args, "laminar hooks --model DIR [--backend NAME]", options, {}, vm)) return kExitOk;
    const PluginRegistry registry;
    const std::string name = registry.model_backend_for(model, backend);
    auto plugin = registry.create_model(name);
    plugin->load(model, Params::object());
    const ModelInfo info = plugin->info();
    std::cerr << name << ": " << info.architecture << ", " << info.n_layer << " layers, " << info.n_head << " heads ("
              << info.n_kv_head << " key/value), width " << info.d_model << "\n";
    for (const auto& h : plugin->hook_points()) std::cout << h << "\n";
    return kExitOk;
}

}  // namespace laminar::cli

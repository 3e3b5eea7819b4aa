#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "runtime/plugin_registry.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

int plugins(const Args& args) {
    po::options_description options("laminar plugins");
    std::string schema_of;
    options.add_options()("schema", po::value<std::string>(&schema_of),
                          "KIND/NAME: print that plugin's parameter schema (e.g. metric/cosine)");
    po::positional_options_description positional;
    po::variables_map vm;
    if (parse(args, "laminar plugins [--schema KIND/NAME]", options, positional, vm)) return kExitOk;

    const PluginRegistry registry;
    if (!schema_of.empty()) {
        for (const auto& p : registry.plugins())
            if (to_string(p.kind) + "/" + p.name == schema_of) {
                std::cout << p.param_schema.dump(2) << "\n";
                return kExitOk;
            }
        throw InputError("--schema: no plugin " + schema_of + " (see `laminar plugins`)");
    }
    std::cout << std::left << std::setw(10) << "KIND" << std::setw(16) << "NAME" << std::setw(10) << "VERSION"
              << std::setw(5) << "API" << "FILE\n";
    for (const auto& p : registry.plugins()) {
        std::cout << std::setw(10) << to_string(p.kind) << std::setw(16) << p.name << std::setw(10) << p.version
                  << std::setw(5) << p.api_version << p.file.string();
        if (!p.model_types.empty()) {  // what `backend:` left out chooses it for
            std::cout << "  (config.json model_type:";
            for (const auto& t : p.model_types) std::cout << " " << t;
            std::cout << ")";
        }
        std::cout << "\n";
    }
    if (registry.plugins().empty()) std::cout << "(no plugins found)\n";
    for (const auto& problem : registry.problems())
        std::cout << "refused: " << problem.file.string() << ": " << (problem.unloadable ? "cannot be loaded: " : "")
                  << problem.reason << "\n";
    std::cout << "search path:";
    for (const auto& dir : registry.search_path()) std::cout << " " << dir.string();
    std::cout << "\n";
    return kExitOk;
}

}  // namespace laminar::cli

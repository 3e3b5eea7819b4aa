// Shared by the unit tests: a scratch folder and the registry of fixture plugins.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/plugin_registry.hpp"

namespace laminar::test {

/// A fresh folder under the system's temp dir, removed with everything in it.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "laminar-test-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return path / name;
    }
};

inline const PluginRegistry& fixture_registry() {
    static const PluginRegistry registry({FIXTURE_PLUGIN_DIR});
    return registry;
}

/// The toy experiment, its model folder and output placed in `dir`, with `analyze` replaced.
inline std::filesystem::path toy_experiment(const ScratchDir& dir, const std::string& analyze = "  - metric: row_norms\n") {
    std::filesystem::copy(std::filesystem::path(TEST_DATA_DIR) / "toy_model", dir.path / "toy_model",
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::skip_existing);
    std::ifstream in(std::filesystem::path(TEST_DATA_DIR) / "toy.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text = text.substr(0, text.find("analyze:\n")) + "analyze:\n" + analyze + "output: runs/toy.h5\n";
    return dir.write("toy.yaml", text);
}

}  // namespace laminar::test

// Finds plugins (Boost.DLL), checks their descriptor and API version, and hands out objects
// that keep their shared library loaded for as long as they live.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/json_schema.hpp"
#include "laminar/extractor.hpp"
#include "laminar/metric.hpp"
#include "laminar/model_backend.hpp"

namespace boost::dll { class shared_library; }

namespace laminar {

enum class PluginKind { model, extractor, metric };
std::string to_string(PluginKind kind);

/// An object made by a plugin; its deleter holds the plugin's library.
template <class T>
using PluginHandle = std::unique_ptr<T, std::function<void(T*)>>;

struct PluginInfo {
    PluginKind kind;
    std::string name;
    std::string version;
    int api_version = 0;
    std::filesystem::path file;
    nlohmann::json param_schema;
    std::vector<std::string> model_types;  ///< model plugins: the config.json model_types it reads
};

/// A library found on the search path that cannot be used, and why.
struct PluginProblem {
    std::filesystem::path file;
    std::string name;  ///< empty when the descriptor could not be read
    std::string reason;
    bool unloadable = false;  ///< the dynamic linker could not load the file (reason: its error)
};

class PluginRegistry {
public:
    /// The build's plugin folder, then each entry of LAMINAR_PLUGIN_PATH (':'-separated),
    /// then the install prefix's. Never the current directory.
    static std::vector<std::filesystem::path> default_search_path();

    /// Lists every `laminar_*.so` in `search_path`; a library is loaded (and its descriptor
    /// checked) only when a plugin is looked up or listed. The first plugin of a given kind and
    /// name on the search path wins; later ones are reported as shadowed.
    explicit PluginRegistry(std::vector<std::filesystem::path> search_path = default_search_path());
    ~PluginRegistry();

    /// Every usable plugin (loads all libraries on the search path).
    const std::vector<PluginInfo>& plugins() const;
    /// Libraries that were refused, and why (loads all libraries on the search path).
    const std::vector<PluginProblem>& problems() const;
    const std::vector<std::filesystem::path>& search_path() const { return search_path_; }

    /// Nullptr when absent.
    const PluginInfo* find(PluginKind kind, const std::string& name) const;
    /// Like find(), but throws InputError saying what is installed, or why a library with
    /// that name was refused (e.g. an API version mismatch). Where the library named for it
    /// (laminar_<kind>_<name>.so) is there but cannot be loaded (out of memory, a missing
    /// symbol), the plugin is not missing but broken: std::runtime_error (exit 1) with the
    /// dynamic linker's error.
    const PluginInfo& require(PluginKind kind, const std::string& name) const;
    /// The plugin's parameter schema, parsed once.
    const JsonSchema& schema(PluginKind kind, const std::string& name) const;

    /// The model plugin for a Hugging Face folder: `given` when not empty, else the one that
    /// reads config.json's model_type: the library named for it (laminar_model_<model_type>.so)
    /// when it reads it, else the first on the search path that does; libraries are loaded only
    /// until one reads it. Throws InputError naming config.json when it has no
    /// model_type or no plugin reads it (listing the model_types that are read).
    std::string model_backend_for(const std::filesystem::path& dir, const std::string& given = "") const;

    PluginHandle<ModelBackend> create_model(const std::string& name) const;
    PluginHandle<Extractor> create_extractor(const std::string& name) const;
    PluginHandle<Metric> create_metric(const std::string& name) const;

private:
    struct Entry;
    std::vector<std::filesystem::path> search_path_;
    std::vector<std::filesystem::path> candidates_;  // every laminar_*.so, in search order
    // Filled lazily by the const look-ups: examining a library does not change what the registry is.
    mutable std::vector<bool> examined_;
    mutable std::vector<PluginInfo> plugins_;
    mutable std::vector<PluginProblem> problems_;
    mutable std::vector<std::unique_ptr<Entry>> entries_;  // parallel to plugins_

    void examine(std::size_t order) const;
    void examine_all() const;
    const PluginInfo* lookup(PluginKind kind, const std::string& name) const;
    const Entry& entry(PluginKind kind, const std::string& name) const;
    template <class T>
    PluginHandle<T> create(PluginKind kind, const std::string& name) const;
};

}  // namespace laminar

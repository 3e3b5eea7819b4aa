#include "runtime/plugin_registry.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <dlfcn.h>
#include <sys/resource.h>

#include "runtime/errors.hpp"
#include "laminar/json_file.hpp"

#ifndef LAMINAR_BUILD_PLUGIN_DIR
#define LAMINAR_BUILD_PLUGIN_DIR ""
#endif
#ifndef LAMINAR_INSTALL_PLUGIN_DIR
#define LAMINAR_INSTALL_PLUGIN_DIR ""
#endif

namespace laminar {

namespace fs = std::filesystem;
using Library = std::shared_ptr<boost::dll::shared_library>;

struct PluginRegistry::Entry {
    Library library;
    std::unique_ptr<JsonSchema> schema;
    std::size_t order = 0;  ///< position of its file on the search path
};

namespace {

// Every plugin library stays loaded until the process exits. Unloading is where plugins and
// the libraries they bring crash: libtorch keeps static registries that do not survive
// dlclose, and OpenMP (libgomp) or OpenBLAS worker threads outlive the call that started them,
// so unloading the last library that holds them in leaves threads running unmapped code.
void keep_resident(const Library& lib) {
    static std::mutex m;
    static auto* resident = new std::vector<Library>();  // deliberately never destroyed
    std::lock_guard<std::mutex> lock(m);
    resident->push_back(lib);
}

std::optional<PluginKind> parse_kind(const std::string& kind) {
    if (kind == "model") return PluginKind::model;
    if (kind == "extractor") return PluginKind::extractor;
    if (kind == "metric") return PluginKind::metric;
    return std::nullopt;
}


/// Loads `file` with every symbol resolved now (RTLD_NOW): a library that needs a symbol no
/// library defines is refused here, naming the symbol, instead of passing for a plugin until
/// the call that needs it, where the dynamic linker ends the process (exit 127). Returns the
/// dynamic linker's error, empty when the library loaded (it stays loaded: keep_resident).
std::string load_error(const fs::path& file) {
    if (dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) return "";
    const char* text = dlerror();
    const std::string why = text ? text : "unknown error";
    // glibc's "failed to map segment from shared object" (of the plugin or of a library it
    // needs, libtorch's hundreds of MB) says nothing of why, and leaves errno 0: mmap failed,
    // for want of address space (ulimit -v, or no overcommit) or on a file system mounted noexec.
    if (why.find("failed to map segment") == std::string::npos) return why;
    rlimit limit{};
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        return "out of memory (this process may map at most " + std::to_string(limit.rlim_cur >> 20) +
               " MB: ulimit -v " + std::to_string(limit.rlim_cur >> 10) + "): " + why;
    return "out of memory, or on a file system mounted noexec: " + why;
}

}  // namespace

std::string to_string(PluginKind kind) {
    switch (kind) {
        case PluginKind::model: return "model";
        case PluginKind::extractor: return "extractor";
        case PluginKind::metric: return "metric";
    }
    return "?";
}

std::vector<fs::path> PluginRegistry::default_search_path() {
    std::vector<fs::path> path;
    // Relative to the executable (the build's and the installation's layouts).
    const fs::path here = fs::path(boost::dll::program_location().string()).parent_path();
    if (*LAMINAR_BUILD_PLUGIN_DIR) path.push_back((here / LAMINAR_BUILD_PLUGIN_DIR).lexically_normal());
    if (const char* env = std::getenv("LAMINAR_PLUGIN_PATH")) {
        std::stringstream list(env);
        for (std::string dir; std::getline(list, dir, ':');)
            if (!dir.empty()) path.emplace_back(dir);
    }
    if (*LAMINAR_INSTALL_PLUGIN_DIR) path.push_back((here / LAMINAR_INSTALL_PLUGIN_DIR).lexically_normal());
    return path;
}

PluginRegistry::PluginRegistry(std::vector<fs::path> search_path) : search_path_(std::move(search_path)) {
    for (const auto& dir : search_path_) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir, ec)) {
            const std::string name = e.path().filename().string();
            if (e.is_regular_file() && name.rfind("laminar_", 0) == 0 && e.path().extension() == ".so")
                files.push_back(e.path());
        }
        std::sort(files.begin(), files.end());
        candidates_.insert(candidates_.end(), files.begin(), files.end());
    }
    examined_.assign(candidates_.size(), false);
    plugins_.reserve(candidates_.size());  // at most one plugin a file: pointers handed out stay valid
    entries_.reserve(candidates_.size());
}

PluginRegistry::~PluginRegistry() = default;

const std::vector<PluginInfo>& PluginRegistry::plugins() const {
    examine_all();
    return plugins_;
}

const std::vector<PluginProblem>& PluginRegistry::problems() const {
    examine_all();
    return problems_;
}

void PluginRegistry::examine_all() const {
    for (std::size_t i = 0; i < candidates_.size(); ++i) examine(i);
}

void PluginRegistry::examine(std::size_t order) const {
    if (examined_[order]) return;
    examined_[order] = true;
    const fs::path& file = candidates_[order];
    if (const std::string why = load_error(file); !why.empty()) {
        problems_.push_back({file, "", why, true});
        return;
    }
    Library lib;
    try {
        lib = std::make_shared<boost::dll::shared_library>(file.string(), boost::dll::load_mode::rtld_now);
    } catch (const std::exception& e) {
        problems_.push_back({file, "", e.what(), true});
        return;
    }
    keep_resident(lib);
    if (!lib->has("laminar_descriptor") || !lib->has("laminar_create")) {
        problems_.push_back({file, "", "not a laminar plugin (no laminar_descriptor / laminar_create)"});
        return;
    }
    // api_version, kind and name lead the descriptor in every API version: safe to read first.
    const auto& d = lib->get_alias<const PluginDescriptor>("laminar_descriptor");
    if (d.api_version != kApiVersion) {
        std::ostringstream why;
        why << "built against laminar plugin API version " << d.api_version
            << ", but this laminar has API version " << kApiVersion
            << ": rebuild the plugin against this laminar's headers";
        problems_.push_back({file, d.name ? d.name : "", why.str()});
        return;
    }
    const auto kind = parse_kind(d.kind ? d.kind : "");
    if (!kind || !d.name || !d.version) {
        problems_.push_back({file, d.name ? d.name : "", "descriptor has no valid kind, name or version"});
        return;
    }
    if (!*d.name) {  // no experiment could name it, and its results would have no group of their own
        problems_.push_back({file, "", "descriptor has an empty name"});
        return;
    }
    PluginInfo info{*kind, d.name, d.version, d.api_version, file, nlohmann::json::object(), {}};
    std::istringstream types(d.model_types ? d.model_types : "");
    for (std::string t; types >> t;) info.model_types.push_back(t);
    auto entry = std::make_unique<Entry>();
    entry->library = lib;
    entry->order = order;
    try {
        info.param_schema = nlohmann::json::parse(d.param_schema ? d.param_schema : "{}");
        entry->schema = std::make_unique<JsonSchema>(info.param_schema, file.string() + " parameter schema");
    } catch (const std::exception& e) {
        problems_.push_back({file, d.name, std::string("invalid parameter schema: ") + e.what()});
        return;
    }
    // The first on the search path wins, whichever was examined first.
    for (std::size_t i = 0; i < plugins_.size(); ++i) {
        if (plugins_[i].kind != *kind || plugins_[i].name != d.name) continue;
        if (entries_[i]->order < order) {
            problems_.push_back({file, d.name, "shadowed by " + plugins_[i].file.string() + " (earlier on the search path)"});
            return;
        }
        problems_.push_back({plugins_[i].file, d.name, "shadowed by " + file.string() + " (earlier on the search path)"});
        plugins_[i] = std::move(info);
        entries_[i] = std::move(entry);
        return;
    }
    plugins_.push_back(std::move(info));
    entries_.push_back(std::move(entry));
}

const PluginInfo* PluginRegistry::lookup(PluginKind kind, const std::string& name) const {
    for (const auto& p : plugins_)
        if (p.kind == kind && p.name == name) return &p;
    return nullptr;
}

const PluginInfo* PluginRegistry::find(PluginKind kind, const std::string& name) const {
    // Libraries named by the convention laminar_<kind>_<name>.so are examined first, so that a
    // run loads only the plugins it uses (a model plugin brings libtorch, which is slow to load).
    const std::string conventional = "laminar_" + to_string(kind) + "_" + name + ".so";
    for (std::size_t i = 0; i < candidates_.size(); ++i)
        if (candidates_[i].filename() == conventional) examine(i);
    if (const PluginInfo* p = lookup(kind, name)) return p;
    examine_all();
    return lookup(kind, name);
}

const PluginInfo& PluginRegistry::require(PluginKind kind, const std::string& name) const {
    if (const PluginInfo* p = find(kind, name)) return *p;
    // The library named for it is there but cannot be loaded: not a mistake in the experiment
    // file but a broken installation or too little memory.
    const std::string conventional = "laminar_" + to_string(kind) + "_" + name + ".so";
    for (const auto& problem : problems_)
        if (problem.unloadable && problem.file.filename() == conventional)
            throw std::runtime_error("could not load " + problem.file.string() + ": " + problem.reason);
    std::ostringstream msg;
    msg << "no " << to_string(kind) << " plugin named '" << name << "'";
    // A refused library that declared this name, or that is named for it by the convention.
    for (const auto& problem : problems_)
        if (problem.name == name || problem.file.filename() == conventional)
            msg << "; " << problem.file.string() << " was refused: " << problem.reason;
    std::string installed;
    for (const auto& p : plugins_)
        if (p.kind == kind) installed += (installed.empty() ? "" : ", ") + p.name;
    msg << " (installed " << to_string(kind) << " plugins: " << (installed.empty() ? "none" : installed) << "; searched:";
    for (const auto& dir : search_path_) msg << ' ' << dir.string();
    msg << ")";
    throw InputError(msg.str());
}

std::string PluginRegistry::model_backend_for(const fs::path& dir, const std::string& given) const {
    if (!given.empty()) return given;
    const fs::path file = dir / "config.json";
    nlohmann::json config;
    try {
        config = read_json_file(file, "is " + dir.string() + " a Hugging Face model folder?");
    } catch (const std::runtime_error& e) {  // unreadable, or not JSON (FILE:LINE:COLUMN)
        throw InputError(e.what());
    }
    if (!config.is_object()) throw InputError(file.string() + ": expected a JSON object (found " + std::string(config.type_name()) + ")");
    if (!config.contains("model_type") || !config["model_type"].is_string())
        throw InputError(file.string() + ": no model_type to choose a model plugin by; name one with backend:");
    const std::string type = config["model_type"].get<std::string>();
    // The library named for it (laminar_model_<model_type>.so) when it reads it, else the first
    // model plugin on the search path that does. Libraries are examined only until one reads
    // it: a run loads no other model plugin (each brings libtorch's relocations) and no
    // extractor or metric it does not name (libraries named laminar_<kind>_<name>.so for those
    // kinds are passed over).
    auto reads = [&](std::size_t candidate) -> const PluginInfo* {
        examine(candidate);
        for (std::size_t j = 0; j < plugins_.size(); ++j)
            if (entries_[j]->order == candidate && plugins_[j].kind == PluginKind::model &&
                std::find(plugins_[j].model_types.begin(), plugins_[j].model_types.end(), type) != plugins_[j].model_types.end())
                return &plugins_[j];
        return nullptr;
    };
    for (std::size_t i = 0; i < candidates_.size(); ++i)
        if (candidates_[i].filename() == "laminar_model_" + type + ".so")
            if (const PluginInfo* p = reads(i)) return p->name;
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
        const std::string file = candidates_[i].filename().string();
        if (file.rfind("laminar_extractor_", 0) == 0 || file.rfind("laminar_metric_", 0) == 0) continue;
        if (const PluginInfo* p = reads(i)) return p->name;
    }
    examine_all();  // none: name what each reads, whatever its file is called
    std::string read;
    for (const auto& p : plugins_) {
        if (p.kind != PluginKind::model) continue;
        for (const auto& t : p.model_types)
            if (t == type) return p.name;
        if (p.model_types.empty()) continue;
        read += (read.empty() ? "" : "; ") + p.name + ":";
        for (const auto& t : p.model_types) read += " " + t;
    }
    // A model plugin that could not be loaded might read it: say so rather than "no plugin".
    for (const auto& problem : problems_)
        if (problem.unloadable && problem.file.filename().string().rfind("laminar_model_", 0) == 0)
            throw std::runtime_error(file.string() + ": model_type \"" + type + "\" is read by no model plugin that could be "
                                     "loaded; could not load " + problem.file.string() + ": " + problem.reason);
    throw InputError(file.string() + ": model_type \"" + type + "\" is read by no model plugin (read: " +
                     (read.empty() ? "none" : read) + ")");
}

const PluginRegistry::Entry& PluginRegistry::entry(PluginKind kind, const std::string& name) const {
    const PluginInfo& info = require(kind, name);
    return *entries_[static_cast<std::size_t>(&info - plugins_.data())];
}

const JsonSchema& PluginRegistry::schema(PluginKind kind, const std::string& name) const {
    return *entry(kind, name).schema;
}

template <class T>
PluginHandle<T> PluginRegistry::create(PluginKind kind, const std::string& name) const {
    const PluginInfo& info = require(kind, name);
    Library lib = entry(kind, name).library;
    T* object = nullptr;
    try {  // while the library is loaded: its exceptions' code and type information live in it
        object = lib->get_alias<T*()>("laminar_create")();
    } catch (const std::exception& e) {
        throw std::runtime_error(info.file.string() + ": laminar_create failed: " + e.what());
    }
    if (!object)
        throw std::runtime_error(info.file.string() + ": laminar_create returned no object (a null pointer): the " +
                                 to_string(kind) + " plugin '" + name + "' is broken");
    // The deleter owns a reference to the library: the code of ~T stays mapped until it ran.
    return PluginHandle<T>(object, [lib](T* p) mutable {
        delete p;
        lib.reset();  // unique_ptr::reset() keeps the deleter: release the library here
    });
}

PluginHandle<ModelBackend> PluginRegistry::create_model(const std::string& name) const {
    return create<ModelBackend>(PluginKind::model, name);
}
PluginHandle<Extractor> PluginRegistry::create_extractor(const std::string& name) const {
    return create<Extractor>(PluginKind::extractor, name);
}
PluginHandle<Metric> PluginRegistry::create_metric(const std::string& name) const {
    return create<Metric>(PluginKind::metric, name);
}

}  // namespace laminar

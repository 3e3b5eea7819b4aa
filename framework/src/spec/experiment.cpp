#include "spec/experiment.hpp"
#include "spec/hub_cache.hpp"

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>

#include "runtime/errors.hpp"
#include "runtime/json_schema.hpp"
#include "laminar/text_file.hpp"
#include "runtime/plugin_registry.hpp"
#include "spec/recording_plan.hpp"
#include "spec/stimuli_spec.hpp"

namespace laminar {

std::string where_in_file(const Experiment& exp, const std::string& pointer, const SpecError& err) {
    return exp.document.where(pointer_append_field(pointer, err.field())) + ": " + err.what();
}

void rethrow_in_file(const Experiment& exp, const std::string& pointer, const SpecError& err) {
    throw InputError(where_in_file(exp, pointer, err));
}

namespace fs = std::filesystem;

namespace {

/// Gathers every problem so that one run of `laminar validate` reports them all.
struct Problems {
    const YamlDocument& doc;
    std::vector<std::string> lines;
    void add(const std::string& pointer, const std::string& message, bool at_key = false) {
        lines.push_back(doc.where(pointer, at_key) + ": " + message);
    }
    void raise_if_any() const {
        if (lines.empty()) return;
        std::string all;
        for (const auto& l : lines) all += (all.empty() ? "" : "\n") + l;
        throw InputError(all);
    }
};

const JsonSchema& experiment_schema() {
    static const JsonSchema schema(nlohmann::json::parse(kExperimentSchema), "schemas/experiment.schema.json");
    return schema;
}

/// Expands ${VAR}; returns false (and names the variable) when one is unset.
bool expand_variables(const std::string& text, std::string& out, std::string& unset) {
    static const std::regex var(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
    out.clear();
    auto begin = text.cbegin();
    std::smatch m;
    while (std::regex_search(begin, text.cend(), m, var)) {
        out.append(begin, m[0].first);
        const char* value = std::getenv(m[1].str().c_str());
        if (!value) { unset = m[1].str(); return false; }
        out += value;
        begin = m[0].second;
    }
    out.append(begin, text.cend());
    return true;
}

Params without(const nlohmann::json& section, std::initializer_list<const char*> keys) {
    Params p = section;
    for (const char* k : keys) p.erase(k);
    return p;
}

void check_params(Problems& problems, const PluginRegistry& registry, PluginKind kind,
                  const std::string& plugin, const std::string& pointer, const Params& params) {
    const JsonSchema& schema = registry.schema(kind, plugin);
    for (const auto& f : schema.validate(params))
        problems.add(pointer + f.pointer, f.message + " (" + to_string(kind) + " plugin '" + plugin + "')", f.about_key);
}

std::vector<StepSpec> read_steps(Problems& problems, const PluginRegistry& registry, const YamlDocument& doc,
                                 const char* list, const char* plugin_key, PluginKind kind, bool check,
                                 const fs::path& base) {
    std::vector<StepSpec> steps;
    if (!doc.json().contains(list)) return steps;
    std::set<std::string> names;
    const auto& entries = doc.json()[list];
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        StepSpec step;
        step.pointer = "/" + std::string(list) + "/" + std::to_string(i);
        step.plugin = e[plugin_key].get<std::string>();
        step.name = e.value("name", step.plugin);
        step.params = without(e, {plugin_key, "name"});
        step.section = e;
        if (!names.insert(step.name).second)
            problems.add(step.pointer, "a second " + std::string(list) + " entry named '" + step.name +
                                           "': give one of them a distinct `name:`");
        try {
            if (check) {
                const std::size_t before = problems.lines.size();
                check_params(problems, registry, kind, step.plugin, step.pointer, step.params);
                if (problems.lines.size() == before)  // valid: the files it names, from the experiment's folder
                    for (auto& f : step.files = resolve_param_paths(step.params, registry.schema(kind, step.plugin).json(), base)) {
                        std::error_code ec;
                        if (!fs::exists(fs::symlink_status(f.path, ec))) {
                            problems.add(step.pointer + f.pointer, "file not found: " + f.path.string());
                            continue;
                        }
                        try {  // there, but a dangling link, a directory, a FIFO or a device: say which
                            require_regular_file(f.path);
                        } catch (const std::runtime_error& e) {
                            problems.add(step.pointer + f.pointer, e.what());
                        }
                    }
            }
        } catch (const InputError& err) {
            problems.add(step.pointer + "/" + plugin_key, err.what());
        }
        steps.push_back(std::move(step));
    }
    return steps;
}

}  // namespace

Experiment load_experiment(const fs::path& file, const PluginRegistry& registry, const LoadOptions& options) {
    Experiment exp;
    exp.document = YamlDocument::load(file);
    const YamlDocument& doc = exp.document;
    Problems problems{doc, {}};

    if (!doc.json().is_object()) {
        problems.add("", "expected a mapping with experiment, models, stimuli, extract, analyze and output");
        problems.raise_if_any();
    }
    for (const auto& f : experiment_schema().validate(doc.json())) problems.add(f.pointer, f.message, f.about_key);
    problems.raise_if_any();  // the rest relies on the structure being right

    const auto& j = doc.json();
    const fs::path base = fs::absolute(file).parent_path();
    auto resolve = [&](const std::string& pointer, const std::string& text, fs::path& out) {
        std::string expanded, unset;
        if (!expand_variables(text, expanded, unset)) {
            const std::string msg = "environment variable " + unset + " is not set (needed to resolve \"" + text + "\")";
            if (options.require_paths) problems.add(pointer, msg);
            else exp.notes.push_back(doc.where(pointer) + ": " + msg);
            return;
        }
        fs::path p(expanded);
        out = (p.is_absolute() ? p : base / p).lexically_normal();
    };

    exp.name = j["experiment"].get<std::string>();
    exp.description = j.value("description", "");

    const bool check_extract = options.stage.empty() || options.stage == "extract";
    const bool check_analyze = options.stage.empty() || options.stage == "analyze";
    std::set<std::string> model_ids;
    for (std::size_t i = 0; i < j["models"].size(); ++i) {
        const auto& m = j["models"][i];
        ModelSpec spec;
        spec.pointer = "/models/" + std::to_string(i);
        spec.id = m["id"].get<std::string>();
        spec.backend = m.value("backend", "");
        spec.backend_chosen = !m.contains("backend");
        spec.path_text = m.value("path", m.value("hub", std::string()));
        spec.params = without(m, {"id", "backend", "path", "hub", "revision"});
        if (!model_ids.insert(spec.id).second)
            problems.add(spec.pointer + "/id", "a second model with id '" + spec.id + "': ids must be unique");
        const bool hub = m.contains("hub") || spec.path_text.rfind("hf:", 0) == 0;
        if (m.contains("path") == m.contains("hub"))
            problems.add(spec.pointer, std::string(m.contains("path") ? "both path and hub" : "no path") +
                                           ": give path (a model folder) or hub (a model's Hub name, read from the local "
                                           "Hugging Face cache)");
        if (m.contains("revision") && !hub)
            problems.add(spec.pointer + "/revision", "revision goes with hub (or path: hf:NAME): a folder has one version");
        if (auto o = options.model_paths.find(spec.id); o != options.model_paths.end()) {
            spec.path = fs::absolute(o->second);
        } else if (hub) {
            const std::string field = spec.pointer + (m.contains("hub") ? "/hub" : "/path");
            spec.hub_repo = m.contains("hub") ? m["hub"].get<std::string>() : spec.path_text.substr(3);
            spec.hub_revision = m.value("revision", std::string("main"));
            try {
                const HubSnapshot snapshot = resolve_hub_model(spec.hub_repo, spec.hub_revision);
                spec.path = snapshot.folder;
                spec.hub_commit = snapshot.commit;
            } catch (const InputError& err) {
                const auto* name = dynamic_cast<const HubNameError*>(&err);
                const bool revision = m.contains("revision") && (dynamic_cast<const HubRevisionError*>(&err) ||
                                                                  (name && name->field == "revision"));
                const std::string at = revision ? spec.pointer + "/revision" : field;
                if (name) problems.add(at, err.what());  // never valid, wherever the cache is
                else if (!options.require_paths) exp.notes.push_back(doc.where(at) + ": " + err.what() + " (`run` needs it)");
                spec.unavailable = err.what();
                spec.unavailable_at = at;
            }
        } else {
            resolve(spec.pointer + "/path", spec.path_text, spec.path);
        }
        if (spec.backend_chosen && check_extract) {
            // The model folder says what it is; one that is not there is an error only when
            // extraction runs (analyze works from the run file alone).
            if (!spec.path.empty() && std::filesystem::exists(spec.path / "config.json")) {
                try {
                    spec.backend = registry.model_backend_for(spec.path);
                } catch (const InputError& err) {
                    problems.add(spec.pointer + "/path", err.what());
                }
            } else if (!options.require_paths) {
                exp.notes.push_back(doc.where(spec.pointer) + ": backend will be chosen from the model folder's config.json");
            }
        }
        try {
            if (check_extract && !spec.backend.empty())
                check_params(problems, registry, PluginKind::model, spec.backend, spec.pointer, spec.params);
        } catch (const InputError& err) {
            problems.add(spec.pointer + (spec.backend_chosen ? "/path" : "/backend"), err.what());
        }
        exp.models.push_back(std::move(spec));
    }
    for (const auto& [id, path] : options.model_paths)
        if (!model_ids.count(id))
            problems.add("/models", "--model " + id + "=" + path + " names no model of this experiment");

    const auto& s = j["stimuli"];
    fs::path stimuli_file;
    if (s.contains("file")) resolve("/stimuli/file", s["file"].get<std::string>(), stimuli_file);
    const auto category_order = s.contains("categories") ? doc.keys_in_order("/stimuli/categories") : std::vector<std::string>{};
    exp.stimuli = read_stimuli_spec(s, category_order, stimuli_file,
                                    [&](const std::string& pointer, const std::string& m, bool at_key) { problems.add(pointer, m, at_key); },
                                    problems.lines);

    exp.extract = read_steps(problems, registry, doc, "extract", "extractor", PluginKind::extractor, check_extract, base);
    exp.analyze = read_steps(problems, registry, doc, "analyze", "metric", PluginKind::metric, check_analyze, base);
    resolve("/output", j["output"].get<std::string>(), exp.output);
    // "x.h5/" names a folder: a run would create one by that name and write the run file in it.
    if (const std::string text = j["output"].get<std::string>(); !text.empty() && text.back() == '/')
        problems.add("/output", "a run file path must not end in '/' (found \"" + text + "\")");
    problems.raise_if_any();
    if (check_extract && check_analyze) {  // what the analyses name must be what the extractors record
        check_spaces(exp, registry, plan_recordings(exp, registry, {}, problems.lines), problems.lines);
        problems.raise_if_any();
    }
    return exp;
}

}  // namespace laminar

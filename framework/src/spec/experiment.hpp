// The experiment file: parsed (yaml-cpp), validated against schemas/experiment.schema.json
// and against the parameter schema of every plugin it names, paths resolved.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "laminar/types.hpp"
#include "spec/param_paths.hpp"
#include "spec/yaml_document.hpp"

namespace laminar {

class PluginRegistry;

struct ModelSpec {
    std::string id;
    std::string backend;           ///< model plugin name: as written, or chosen by config.json's model_type
    bool backend_chosen = false;   ///< `backend:` was left out (empty when the folder could not be read)
    std::string path_text;         ///< as written, before ${VAR} expansion (or `hub:`'s name)
    std::filesystem::path path;    ///< resolved; empty when a variable was unset (validate only)
    Params params;                 ///< the plugin's own options
    std::string pointer;           ///< where in the file, e.g. "/models/0"
    /// A model named by its Hub name (`hub: org/name`, or `path: hf:org/name`), read from the
    /// local cache: its name, the revision asked and the snapshot's commit (recorded in the run).
    std::string hub_repo, hub_revision, hub_commit;
    /// Why a `hub:` model is not in the cache, and at which field ("/models/0/hub"): extraction
    /// says so, unless the run file already holds its activations (as for a folder not found).
    std::string unavailable, unavailable_at;
};

/// One entry of `extract:` or `analyze:`.
struct StepSpec {
    std::string plugin;   ///< extractor or metric name
    std::string name;     ///< unique within its list; defaults to the plugin name
    Params params;        ///< the entry without its plugin and name keys
    nlohmann::json section;  ///< the whole entry as written (hashed to decide re-runs)
    std::string pointer;
    std::vector<ParamPath> files;  ///< files its parameters name (resolved in `params`)
};

/// One prompt to run: a word in one of its contexts.
struct PromptSpec {
    std::string word;
    std::string category;
    std::string text;  ///< the context, the word marked as "{word}" (once)
    int context = 0;   ///< which of the word's contexts, from 0
};

struct StimuliSpec {
    std::vector<std::string> templates;  ///< `template:` or `templates:`; empty with a file
    std::filesystem::path file;          ///< `file:`, resolved
    std::string contexts;                ///< mean | keep
    std::string position;                ///< last | word_last | word_first | word_mean
    std::vector<std::pair<std::string, std::vector<std::string>>> categories;  ///< file order
    /// Category by category, word by word, context by context (the order of the analysed rows).
    std::vector<PromptSpec> prompts;
};

struct Experiment {
    YamlDocument document;
    std::string name;
    std::string description;
    std::vector<ModelSpec> models;
    StimuliSpec stimuli;
    std::vector<StepSpec> extract;
    std::vector<StepSpec> analyze;
    std::filesystem::path output;
    std::vector<std::string> notes;  ///< warnings worth printing (e.g. unset variables in validate)
};

struct LoadOptions {
    /// Model paths given on the command line (`--model id=PATH`), replacing the file's.
    std::map<std::string, std::string> model_paths;
    /// When false (validate), an unset ${VAR} in a path is a note, not an error.
    bool require_paths = true;
    /// Check plugin names and options only for this stage's sections ("extract": models and
    /// extractors, "analyze": metrics, "report": none); empty checks them all. A run of one
    /// stage then loads only the plugins it uses.
    std::string stage;
};

/// Throws InputError listing every problem found, each as "file:line:col: field: message".
/// Relative paths in the file are resolved against the file's folder.
Experiment load_experiment(const std::filesystem::path& file, const PluginRegistry& registry,
                           const LoadOptions& options = {});

/// A plugin's SpecError as "file:line:col: field: message", the field found under `pointer`.
std::string where_in_file(const Experiment& exp, const std::string& pointer, const SpecError& err);

/// Turns a plugin's SpecError into an InputError that points into the experiment file.
[[noreturn]] void rethrow_in_file(const Experiment& exp, const std::string& pointer, const SpecError& err);

/// Schema text embedded at build time from schemas/experiment.schema.json.
extern const char* const kExperimentSchema;

}  // namespace laminar

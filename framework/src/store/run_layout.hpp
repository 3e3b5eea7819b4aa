// Every HDF5 path of the run file's layout, named once (docs/run-file format). Stages, the
// command line and the store's own readers ask RunFile for a path instead of spelling it, so
// the layout can be read (and changed) in one place.
#pragma once

#include <string>

namespace laminar {

struct RunFile {
    // The top-level groups.
    static constexpr const char* root = ".";                ///< the root, where stamp_root writes
    static constexpr const char* stimuli = "stimuli";       ///< words, categories, prompts
    static constexpr const char* activations = "activations";
    static constexpr const char* results = "results";
    static constexpr const char* stages = "stages";         ///< what each completed stage ran on
    static constexpr const char* shard = "shard";           ///< present in a shard file only
    static constexpr const char* stimuli_by_model = "stimuli/by_model";  ///< one group per model

    /// "stimuli/<dataset>": word, category, category_names, prompts, n_contexts.
    static std::string stimulus(const std::string& dataset) { return std::string(stimuli) + "/" + dataset; }

    /// "stimuli/by_model/<model>": one model's tokenization of the prompts.
    static std::string stimuli_of(const std::string& model) { return std::string(stimuli_by_model) + "/" + model; }
    /// "stimuli/by_model/<model>/<dataset>".
    static std::string stimuli_of(const std::string& model, const std::string& dataset) {
        return stimuli_of(model) + "/" + dataset;
    }
    /// "activations/<model>": the model's attributes and one dataset per hook.
    static std::string activations_of(const std::string& model) { return std::string(activations) + "/" + model; }
    /// "activations/<model>/<hook>".
    static std::string activation(const std::string& model, const std::string& hook) {
        return activations_of(model) + "/" + hook;
    }
    /// "results/<analysis>".
    static std::string result(const std::string& analysis) { return std::string(results) + "/" + analysis; }
    /// "stages/<stage>": "stages/extract", "stages/analyze".
    static std::string stage(const std::string& name) { return std::string(stages) + "/" + name; }
    /// "stages/analyze/<analysis>": what one analysis ran on.
    static std::string analysis_stage(const std::string& analysis) { return stage("analyze") + "/" + analysis; }
};

}  // namespace laminar

// What a run will record, known before any model runs: the extractors' activation sets per
// model, and the check that every space an analysis names is among them. A typo in `sites:`
// or `pairs:` is then an error in a second, not after an hour of extraction.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "spec/experiment.hpp"
#include "runtime/plugin_registry.hpp"

namespace laminar {

/// One model's planned activation sets.
struct PlannedModel {
    std::vector<Recording> records;
    /// The hook points each extractor asks for, by its step's pointer ("/extract/0").
    std::map<std::string, std::vector<std::string>> hooks;
    /// Planned with the model's own ModelInfo. Otherwise with a nominal one: sites are right,
    /// but the layer count is not known and heads are planned as one (".head0").
    bool exact = false;
    /// False when an extractor could not be planned without the model (it refused the nominal
    /// ModelInfo): nothing is concluded about this model.
    bool known = true;
};

/// By model id.
using RecordingPlan = std::map<std::string, PlannedModel>;

/// Whether the analysed rows average each word's contexts: `contexts: mean` (the default) with
/// some word in several prompts.
bool averages_contexts(const StimuliSpec& spec);

/// Why a recorded set's rows cannot be averaged over a word's contexts — a set per token (a
/// word's contexts have different tokens), or one whose extractor says so
/// (Recording::no_context_mean: token ids, ranks) — ending in what to write instead; empty
/// when they can.
std::string context_mean_refusal(const Recording& record);

/// Configures every extractor for every model, with `infos.at(id)` where given (a refusal is
/// then a problem, pointing into the experiment file) and a nominal model elsewhere. With
/// contexts averaged, an extractor whose sets cannot be averaged is a problem (once per step).
RecordingPlan plan_recordings(const Experiment& exp, const PluginRegistry& registry,
                              const std::map<std::string, ModelInfo>& infos, std::vector<std::string>& problems);

/// Configures every metric and has it check the stimuli (Metric::check: hypothesis files), a
/// refusal being a problem, and checks each space it names against the plan: a model it names
/// must exist, and some known model must record the site or set.
void check_spaces(const Experiment& exp, const PluginRegistry& registry, const RecordingPlan& plan,
                  std::vector<std::string>& problems);

/// For a folder that is not there: "; the deepest part of it that exists is 'P', holding close
/// names: a, b" (or some of the folders it holds when none is close), to follow an error.
std::string nearest_folder(const std::filesystem::path& missing);

/// For `validate`: a model path that is no model folder is a problem (naming the deepest part
/// of it that exists and close names there); loads each model whose folder is there (tokenizer and config; weights are
/// memory-mapped, never read), plans with its real ModelInfo and checks that every hook the
/// extractors ask for is one the model has. Returns the plan for check_spaces().
RecordingPlan plan_with_models(const Experiment& exp, const PluginRegistry& registry, std::vector<std::string>& problems);

}  // namespace laminar

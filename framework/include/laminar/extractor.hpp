// Interface of extractor plugins (plugins/extractors/<name>/): which hook points to capture
// and how to turn them into one [n_stimuli x dim] matrix per site and layer.
#pragma once

#include <string>
#include <vector>

#include "laminar/plugin.hpp"
#include "laminar/types.hpp"

namespace laminar {

class ModelBackend;

class BOOST_SYMBOL_VISIBLE Extractor {
public:
    /// What the forward pass an extractor reads runs on: the prompts as written, or with each
    /// of the word's tokens replaced by the model's mask token (ModelBackend::mask_token: what
    /// a masked language model makes of the word it cannot see). The stimuli extract() gets are
    /// the prompts as written either way, so the word's own tokens are at hand.
    enum class Input { prompts, word_masked };

    virtual ~Extractor() = default;

    /// Reads this extractor's parameters for a given model; throws SpecError on values the
    /// model cannot satisfy (e.g. a layer beyond n_layer).
    virtual void configure(const Params& params, const ModelInfo& model) = 0;

    /// The loaded model, for extractors that compute with it (the logit lens unembeds); called
    /// after configure(), valid until the extraction of that model ends.
    virtual void attach(const ModelBackend& model) { (void)model; }

    virtual Input input() const { return Input::prompts; }

    /// Hook names the forward pass must capture.
    virtual std::vector<std::string> hooks() const = 0;

    /// The activation sets extract() will return (names, layers, sites), in the same order.
    virtual std::vector<Recording> records() const = 0;

    /// One row per stimulus, taken at Stimulus::position.
    virtual std::vector<ActivationSet> extract(const Captures& captured,
                                               const std::vector<Stimulus>& stimuli) const = 0;
};

}  // namespace laminar

// Builds the prompts of an experiment and locates the target word's tokens in each.
#pragma once

#include <string>
#include <vector>

#include "spec/experiment.hpp"
#include "laminar/model_backend.hpp"

namespace laminar {

/// One Stimulus per word, categories in file order. The word's tokens are found as the
/// tokens added by the word after the template's prefix; a tokenizer that merges across
/// that boundary is an error naming the word. Words of more than one token are listed in
/// `warnings` (the position rule decides which token is analysed).
std::vector<Stimulus> build_stimuli(const StimuliSpec& spec, const ModelBackend& model,
                                    std::vector<std::string>& warnings);

}  // namespace laminar

// Interface of model plugins (plugins/models/<arch>/): load a model folder, tokenize, run
// the forward pass and hand back the requested hook points.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "laminar/plugin.hpp"
#include "laminar/types.hpp"

namespace laminar {

class BOOST_SYMBOL_VISIBLE ModelBackend {
public:
    virtual ~ModelBackend() = default;

    /// Loads the model in `dir` (a Hugging Face folder). Throws std::runtime_error with the
    /// offending file's name when the folder is unusable.
    virtual void load(const std::filesystem::path& dir, const Params& params) = 0;

    virtual ModelInfo info() const = 0;

    virtual std::vector<int32_t> tokenize(const std::string& text) const = 0;

    /// Runs every prompt and returns, for each requested hook name (TransformerLens names,
    /// e.g. "blocks.5.attn.hook_q"), one tensor per prompt whose first axis is position.
    /// Throws SpecError naming the hook when one is unknown.
    virtual Captures forward(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<std::string>& hooks) = 0;
};

}  // namespace laminar

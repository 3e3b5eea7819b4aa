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

    /// Loads the model in `dir` (a Hugging Face folder): tokenizer and weights. Throws
    /// std::runtime_error naming the offending file when the folder is unusable.
    virtual void load(const std::filesystem::path& dir, const Params& params) = 0;

    /// Loads only what tokenize() needs (for `laminar tokenize`: no weights are read).
    virtual void load_tokenizer(const std::filesystem::path& dir) = 0;

    virtual ModelInfo info() const = 0;

    /// Token ids of a UTF-8 text; throws std::invalid_argument on invalid UTF-8.
    virtual std::vector<int32_t> tokenize(const std::string& text) const = 0;

    /// The text a token stands for (its bytes, which may be part of a UTF-8 character).
    virtual std::string token_text(int32_t id) const = 0;

    /// Runs every prompt and returns, for each requested hook name (TransformerLens names,
    /// e.g. "blocks.5.attn.hook_q"), one tensor per prompt whose first axis is position
    /// (attn.hook_pattern, as in TransformerLens: [head, query_pos, key_pos]).
    /// Throws SpecError naming the hook when one is unknown.
    virtual Captures forward(const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<std::string>& hooks) = 0;
};

}  // namespace laminar

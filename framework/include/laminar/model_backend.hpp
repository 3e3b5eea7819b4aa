// Interface of model plugins (plugins/models/<arch>/): load a model folder, tokenize, run
// the forward pass and hand the requested hook points to the host batch by batch.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "laminar/plugin.hpp"
#include "laminar/types.hpp"

namespace laminar {

/// A text's token ids as the model takes them. The tokens the tokenizer adds around the text
/// (BOS for Llama, [CLS] ... [SEP] for BERT) are part of `ids`; the text's own tokens are
/// ids[content_begin, content_end), so a stimulus position never lands on an added token.
struct Encoding {
    std::vector<int32_t> ids;
    int32_t content_begin = 0;
    int32_t content_end = 0;
};

/// Receives one batch of a forward pass: captures[hook][i] belongs to prompts[i], an index
/// into the prompt list given to forward(). The values are the sink's to keep or drop: the
/// backend lets them go once the sink returns, so memory holds one batch at a time.
using BatchSink = std::function<void(const std::vector<std::size_t>& prompts, const Captures& captures)>;

class BOOST_SYMBOL_VISIBLE ModelBackend {
public:
    virtual ~ModelBackend() = default;

    /// Loads the model in `dir` (a Hugging Face folder): tokenizer and weights. Throws
    /// std::runtime_error naming the offending file when the folder is unusable.
    virtual void load(const std::filesystem::path& dir, const Params& params) = 0;

    /// Loads only what encode() needs (for `laminar tokenize`: no weights are read).
    virtual void load_tokenizer(const std::filesystem::path& dir) = 0;

    virtual ModelInfo info() const = 0;

    /// Every hook point the loaded model offers, by TransformerLens name.
    virtual std::vector<std::string> hook_points() const = 0;

    /// Token ids of a UTF-8 text as the model's tokenizer gives them by default (special
    /// tokens added); throws std::invalid_argument on invalid UTF-8.
    virtual Encoding encode(const std::string& text) const = 0;

    /// The text a token stands for (its bytes, which may be part of a UTF-8 character).
    virtual std::string token_text(int32_t id) const = 0;

    /// The token a masked language model fills in (BERT's [MASK]), or -1 where it has none.
    virtual int32_t mask_token() const { return -1; }

    /// Runs every prompt and hands `sink`, batch by batch, one tensor per prompt for each
    /// requested hook (TransformerLens names, e.g. "blocks.5.attn.hook_q") whose first axis is
    /// position (attn.hook_pattern, as in TransformerLens: [head, query_pos, key_pos]).
    /// `shared[i]` (or none: empty) says how many first tokens of prompt i come from the
    /// experiment's template: prompts whose first tokens are the same may have them computed
    /// once (a causal model's keys and values do not depend on what follows). Throws SpecError
    /// naming the hook when one is unknown.
    virtual void forward(const std::vector<std::vector<int32_t>>& prompts, const std::vector<int32_t>& shared,
                         const std::vector<std::string>& hooks, const BatchSink& sink) = 0;

    /// The logit lens's step: rows of the residual stream ([rows x d_model]) through the final
    /// norm and the unembedding, as the model turns its last layer into logits ([rows x vocab]).
    /// Throws SpecError where the model plugin cannot.
    virtual Tensor unembed(const Tensor& residual) const {
        (void)residual;
        throw SpecError("", "this model plugin has no unembedding (no logit lens)");
    }
};

}  // namespace laminar

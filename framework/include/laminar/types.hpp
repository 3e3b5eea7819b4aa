// Plain data exchanged between the host and plugins.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/config.hpp>
#include <nlohmann/json.hpp>

namespace laminar {

/// A plugin's section of the experiment file, already validated against its parameter schema.
using Params = nlohmann::json;

/// Thrown by a plugin (or the host) when the experiment asks for something impossible.
/// `field` is a dotted path inside the plugin's parameters ("layers[2]"); the host adds the
/// file, line and column. Exit code 2.
class BOOST_SYMBOL_VISIBLE SpecError : public std::runtime_error {
public:
    SpecError(std::string field, const std::string& what)
        : std::runtime_error(what), field_(std::move(field)) {}
    const std::string& field() const { return field_; }

private:
    std::string field_;
};

/// Dense row-major float32 array, e.g. a hook output [pos, head, d_head].
struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

/// One prompt: a word in one of its contexts. What extractors see. Metrics see one Stimulus per
/// analysed row: a prompt, or with `contexts: mean` a word (then without text or tokens).
struct Stimulus {
    std::string text;      ///< the full prompt
    std::string word;      ///< the word substituted into the template
    std::string category;  ///< its category label
    std::vector<int32_t> token_ids;
    int32_t word_begin = 0;  ///< first token of the word (index into token_ids)
    int32_t word_end = 0;    ///< one past its last token
    int32_t position = 0;    ///< the token analysed, by the experiment's position rule (-1: mean of the word)
    int32_t context = -1;    ///< which of the word's contexts (from 0); -1 for a row that averages them
};

/// What a loaded model tells the host and the extractors about itself.
struct ModelInfo {
    std::string architecture;
    int n_layer = 0;
    int n_head = 0;     ///< query heads
    int d_model = 0;
    int n_kv_head = 0;  ///< key/value heads (fewer than n_head with grouped-query attention)
    int d_head = 0;
    int vocab_size = 0;  ///< token ids run from 0 to vocab_size - 1 (0: not known)
};

/// An activation set an extractor will produce, known before any forward pass (what the host
/// checks the analyses' `sites:` and `pairs:` against before anything runs).
struct Recording {
    std::string name;  ///< the set's name, ActivationSet::hook: "blocks.5.attn.hook_q", "...hook_q.head3"
    int layer = -1;
    std::string site;  ///< e.g. "q", "resid_post"
    bool per_token = false;  ///< a row for every token of each prompt (ActivationSet::tokens), not one per stimulus
    /// Empty when its rows may be averaged over a word's contexts (`stimuli.contexts: mean`, the
    /// default); otherwise why their mean means nothing (token ids, ranks, statistics of a
    /// distribution), and the host refuses the combination before anything runs.
    std::string no_context_mean{};
};

/// Hook name -> one tensor per prompt, in prompt order.
using Captures = std::map<std::string, std::vector<Tensor>>;

/// A named [rows x cols] float32 matrix, one row per stimulus: what extractors produce and
/// metrics consume. Stored as /activations/<model>/<hook>.
struct ActivationSet {
    std::string hook;  ///< e.g. "blocks.5.attn.hook_q"
    int layer = -1;    ///< -1 when the hook has no layer (e.g. ln_final)
    std::string site;  ///< e.g. "q", "k", "resid_post"
    int64_t rows = 0;
    int64_t cols = 0;
    std::vector<float> data;  ///< row-major
    /// Empty for a set with one row per stimulus. For a set with a row per token (an extractor
    /// that keeps every position), each stimulus's number of rows — its prompt's tokens, the
    /// rows one stimulus after another — so that `rows` is their sum.
    std::vector<int64_t> tokens;
};

}  // namespace laminar

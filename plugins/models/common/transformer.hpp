// What every architecture folder provides (a Transformer: weights and a forward pass with
// hook points), and the ModelBackend that turns one into a laminar model plugin: tokenizer,
// length-bucketed batches, captures handed to the host batch by batch.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <torch/types.h>  // (not torch/torch.h: nn, optim and data would double each compile)
#include <torch/utils.h>

#include "hook_plan.hpp"
#include "layers.hpp"
#include "laminar/model_backend.hpp"
#include "tokenizer/tokenizer.hpp"

namespace laminar::models {

/// Called with a hook name and its value for the whole batch: [batch, pos, ...].
using CaptureFn = std::function<void(const std::string& hook, const torch::Tensor& value)>;

/// A forward pass's side of the hook plan: `hooks("hook_embed", x)` captures a point when the
/// plan wants it, `hooks.block(l)` names block l's points, and `block.done_after("attn.hook_v")`
/// says the pass may stop there (from the catalog's order). Every name is checked against the
/// family's catalog: one it does not declare throws std::logic_error on the first pass.
class Hooks {
public:
    Hooks(const HookPlan& plan, const CaptureFn& capture) : plan_(plan), capture_(capture) {}
    /// The last block the pass must run (-1: none).
    int last_layer() const { return plan_.last_layer(); }
    bool want(std::string_view hook) const { return plan_.wants(hook); }
    void operator()(std::string_view hook, const torch::Tensor& value) const {
        if (want(hook)) capture_(std::string(hook), value);
    }

    class Block {
    public:
        bool want(std::string_view site) const { return hooks_.plan_.wants(layer_, site); }
        void operator()(std::string_view site, const torch::Tensor& value) const {
            if (want(site)) hooks_.capture_(prefix_ + std::string(site), value);
        }
        bool done_after(std::string_view site) const { return hooks_.plan_.done_after(layer_, site); }

    private:
        friend class Hooks;
        Block(const Hooks& hooks, int layer) : hooks_(hooks), layer_(layer), prefix_("blocks." + std::to_string(layer) + ".") {}
        const Hooks& hooks_;
        int layer_;
        std::string prefix_;
    };
    Block block(int layer) const { return {*this, layer}; }

private:
    const HookPlan& plan_;
    const CaptureFn& capture_;
};

/// The dimensions every family has, under one set of names (config.json spells them its own
/// way per family: n_embd, hidden_size, d_model, ...). Each family's Config extends it.
struct Shape {
    std::string model_type;
    int n_layer = 0, n_head = 0;
    int n_kv_head = 0;       ///< key/value heads (n_head without grouped-query attention)
    int d_model = 0, d_head = 0, d_mlp = 0, vocab_size = 0;
    int max_positions = 0;   ///< the longest prompt a learned position table takes; 0: no limit
};

/// Keys (after rotary) and values of first tokens that many prompts share, block by block
/// ([1, P, key/value heads, d_head] each): a causal model computes them once, and every
/// prompt's own tokens attend to them.
struct PrefixCache {
    int64_t length = 0;
    std::vector<torch::Tensor> k, v;
};

/// What a forward pass gets beside its tokens: the cached prefix they continue (their positions
/// start after it), or where to record the keys and values of this pass.
struct PassContext {
    const PrefixCache* past = nullptr;
    PrefixCache* record = nullptr;
    int64_t offset() const { return past ? past->length : 0; }
    /// Block `layer`'s keys and values to attend over: the cached prefix's, then `k`, `v`
    /// ([B, T, heads, d_head]); records `k`, `v` when asked.
    std::pair<torch::Tensor, torch::Tensor> keys_values(int layer, const torch::Tensor& k, const torch::Tensor& v) const;
};

class Transformer {
public:
    virtual ~Transformer() = default;
    /// The model's dimensions (its Config's).
    virtual const Shape& shape() const = 0;
    virtual const HookCatalog& catalog() const = 0;
    ModelInfo info() const {
        const Shape& s = shape();
        return {s.model_type, s.n_layer, s.n_head, s.d_model, s.n_kv_head, s.d_head, s.vocab_size};
    }
    /// Causal (decoder) models can continue a cached prefix (PassContext); encoders cannot.
    virtual bool causal() const { return true; }
    /// One batch of equal-length prompts, ids [batch, pos] (int64). Materialises only the
    /// hooks the plan wants and stops after hooks.last_layer().
    virtual void forward(const torch::Tensor& ids, const Hooks& hooks, const PassContext& context) const = 0;
    /// Residual-stream rows [rows, d] through the final norm and the output head: [rows, vocab].
    virtual torch::Tensor unembed(const torch::Tensor& residual) const = 0;
};

/// Gives libtorch's loops every core this process may run on, unless OMP_NUM_THREADS says
/// otherwise (transformer.cpp says why through that variable); returns their number.
int use_allowed_cores();

using TransformerFactory = std::function<std::unique_ptr<Transformer>(const std::filesystem::path& dir)>;

/// A model plugin: `class LlamaBackend : public TransformerBackend { LlamaBackend() :
/// TransformerBackend([](auto& dir) { return std::make_unique<Llama>(dir); }) {} };`
class TransformerBackend : public ModelBackend {
public:
    explicit TransformerBackend(TransformerFactory make) : make_(std::move(make)) {}
    ~TransformerBackend() override;

    void load(const std::filesystem::path& dir, const Params& params) override;
    void load_tokenizer(const std::filesystem::path& dir) override { tokenizer_ = Tokenizer::load(dir); }
    ModelInfo info() const override { return model().info(); }
    std::vector<std::string> hook_points() const override { return model().catalog().names(model().info().n_layer); }
    Encoding encode(const std::string& text) const override { return tokenizer().encode(text); }
    std::string token_text(int32_t id) const override { return tokenizer().token_text(id); }
    int32_t mask_token() const override { return tokenizer().mask_token(); }
    void forward(const std::vector<std::vector<int32_t>>& prompts, const std::vector<int32_t>& shared,
                 const std::vector<std::string>& hooks, const BatchSink& sink) override;
    Tensor unembed(const Tensor& residual) const override;

private:
    TransformerFactory make_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<Transformer> model_;
    const Transformer& model() const;
    const Tokenizer& tokenizer() const;
};

}  // namespace laminar::models

/// A family's plugin.cpp: `LAMINAR_TRANSFORMER_PLUGIN(laminar::llama::Model, "llama", "1.0.0",
/// "llama mistral qwen2")` makes a model plugin of `MODEL` (constructed from a folder), read
/// for the config.json model_types listed. Model backends take no options: everything comes
/// from the model folder.
#define LAMINAR_TRANSFORMER_PLUGIN(MODEL, NAME, VERSION, MODEL_TYPES)                                               \
    namespace laminar_transformer_plugin {                                                                         \
    struct Backend : ::laminar::models::TransformerBackend {                                                       \
        Backend()                                                                                                  \
            : TransformerBackend([](const std::filesystem::path& dir) { return std::make_unique<MODEL>(dir); }) {} \
    };                                                                                                             \
    constexpr const char* kSchema = "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {}, "     \
                                    "\"description\": \"the " NAME " backend takes no options: everything comes "       \
                                    "from the model folder\"}";                                                      \
    }                                                                                                              \
    LAMINAR_MODEL_PLUGIN(laminar_transformer_plugin::Backend, NAME, VERSION, laminar_transformer_plugin::kSchema, MODEL_TYPES)

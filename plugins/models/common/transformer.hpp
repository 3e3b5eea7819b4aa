// What every architecture folder provides (a Transformer: weights and a forward pass with
// hook points), and the ModelBackend that turns one into a laminar model plugin: tokenizer,
// length-bucketed batches, captures handed to the host batch by batch.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <torch/types.h>  // (not torch/torch.h: nn, optim and data would double each compile)
#include <torch/utils.h>

#include "hook_plan.hpp"
#include "layers.hpp"
#include "laminar/model_backend.hpp"
#include "tokenizer/tokenizer.hpp"

namespace laminar::models {

/// Called with a hook name and its value for the whole batch: [batch, pos, ...].
using CaptureFn = std::function<void(const std::string& hook, const torch::Tensor& value)>;

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
    virtual ModelInfo info() const = 0;
    virtual const HookCatalog& catalog() const = 0;
    /// The longest prompt the model takes (learned position embeddings), or 0 for no limit.
    virtual int64_t max_positions() const = 0;
    virtual int64_t vocab_size() const = 0;
    /// Causal (decoder) models can continue a cached prefix (PassContext); encoders cannot.
    virtual bool causal() const { return true; }
    /// One batch of equal-length prompts, ids [batch, pos] (int64). Materialises only the
    /// hooks in `plan` and stops after plan.last_layer().
    virtual void forward(const torch::Tensor& ids, const HookPlan& plan, const CaptureFn& capture,
                         const PassContext& context) const = 0;
    /// Residual-stream rows [rows, d] through the final norm and the output head: [rows, vocab].
    virtual torch::Tensor unembed(const torch::Tensor& residual) const = 0;
};

using TransformerFactory = std::function<std::unique_ptr<Transformer>(const std::filesystem::path& dir)>;

/// A model plugin: `class LlamaBackend : public TransformerBackend { LlamaBackend() :
/// TransformerBackend([](auto& dir) { return std::make_unique<Llama>(dir); }) {} };`
class TransformerBackend : public ModelBackend {
public:
    explicit TransformerBackend(TransformerFactory make) : make_(std::move(make)) {}
    ~TransformerBackend() override;

    void load(const std::filesystem::path& dir, const Params& params) override;
    void load_tokenizer(const std::filesystem::path& dir) override { tokenizer_ = Tokenizer::load(dir); }
    ModelInfo info() const override {
        ModelInfo i = model().info();
        i.vocab_size = static_cast<int>(model().vocab_size());
        return i;
    }
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

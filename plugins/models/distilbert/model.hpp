// DistilBERT (Sanh et al. 2019; Hugging Face's modeling_distilbert): BERT's post-LayerNorm
// encoder with half the layers, learned positions, no token types, every LayerNorm at eps 1e-12,
// and the MLM head (vocab_transform, the config's activation, vocab_layer_norm, vocab_projector
// tied to the word embeddings, with a bias) for logits. Hook names as TransformerLens's
// HookedEncoder (bert's): hook_resid_post is the block's output before output_layer_norm,
// hook_normalized_resid_post after it (Hugging Face's hidden state).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "post_ln_encoder.hpp"
#include "transformer.hpp"

namespace laminar::distilbert {

/// Shape from n_layers, n_heads, dim, hidden_dim, vocab_size, max_position_embeddings.
struct Config : models::Shape {
    std::string activation;
    static Config load(const std::filesystem::path& dir);
};

class Model : public models::Transformer {
public:
    explicit Model(const std::filesystem::path& dir);
    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override { return catalog_; }
    bool causal() const override { return false; }
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    Config config_;
    models::HookCatalog catalog_;
    models::WeightStore weights_;
    torch::Tensor word_, pos_, emb_ln_w_, emb_ln_b_;         // word_ in the file's dtype
    models::MlmHead head_;                                   // vocab_*; absent in DistilBertModel
    models::LazyBlocks<models::PostLnBlock> blocks_;
    models::PostLnBlock load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::distilbert

// BERT: a post-LayerNorm encoder with learned position and token-type embeddings,
// bidirectional attention, and the masked-language-model head (cls.predictions.*) for logits.
// Hook names as TransformerLens's HookedEncoder: hook_resid_post is the block's output before
// its LayerNorm, hook_normalized_resid_post after it (Hugging Face's hidden state).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "post_ln_encoder.hpp"
#include "transformer.hpp"

namespace laminar::bert {

/// Shape from num_hidden_layers, num_attention_heads, hidden_size, intermediate_size,
/// vocab_size, max_position_embeddings.
struct Config : models::Shape {
    int type_vocab = 0;
    double layer_norm_eps = 1e-12;
    std::string hidden_act;
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
    torch::Tensor word_, pos_, type_, emb_ln_w_, emb_ln_b_;  // word_ in the file's dtype
    models::MlmHead head_;                                   // cls.predictions.*; absent in BertModel
    models::LazyBlocks<models::PostLnBlock> blocks_;
    models::PostLnBlock load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::bert

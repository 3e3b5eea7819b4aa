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
#include "transformer.hpp"

namespace laminar::distilbert {

/// Shape from n_layers, n_heads, dim, hidden_dim, vocab_size, max_position_embeddings.
struct Config : models::Shape {
    std::string activation;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo;   // attention.{q,k,v,out}_lin [d, d], [d]
    torch::Tensor sa_ln_w, sa_ln_b;                 // sa_layer_norm
    torch::Tensor lin1_w, lin1_b, lin2_w, lin2_b;   // ffn.lin1 [mlp, d], ffn.lin2 [d, mlp]
    torch::Tensor out_ln_w, out_ln_b;               // output_layer_norm
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
    torch::Tensor head_w_, head_b_, head_ln_w_, head_ln_b_, projector_b_;  // undefined without an MLM head
    torch::Tensor projector_;                                // [vocab, d] as stored: its own, or word_ (tied)
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::distilbert

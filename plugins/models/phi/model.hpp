// Phi (phi-1, phi-1.5, phi-2): one LayerNorm (input_layernorm) feeding attention and the MLP in
// parallel, q/k/v and dense projections with biases, optional LayerNorms of q and k over the
// head dimension shared by all heads (qk_layernorm), rotary embeddings (rotate-half) on the
// first partial_rotary_factor of each head, grouped-query attention, a GELU MLP (fc1, fc2),
// final_layernorm and an untied lm_head with a bias.
#pragma once

#include <filesystem>
#include <string>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::phi {

/// Shape from num_hidden_layers, num_attention_heads, num_key_value_heads (null: the heads),
/// hidden_size, intermediate_size, vocab_size (no position table: max_positions 0).
struct Config : models::Shape {
    int rotary_dims = 0;  ///< int(d_head * partial_rotary_factor)
    double layer_norm_eps = 1e-5, rope_theta = 10000.0;
    bool qk_layernorm = false, tied = false;
    std::string hidden_act;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor ln_w, ln_b;                    // input_layernorm [d]: the block's only norm
    torch::Tensor wq, bq, wk, bk, wv, bv;        // [H dh, d], [H dh]; [KV dh, d], [KV dh] x 2
    torch::Tensor q_norm_w, q_norm_b, k_norm_w, k_norm_b;  // with qk_layernorm: [dh] each, shared by the heads
    torch::Tensor dense_w, dense_b;              // [d, H dh], [d]
    torch::Tensor fc1_w, fc1_b, fc2_w, fc2_b;    // [mlp, d], [mlp], [d, mlp], [d]
};

class Model : public models::Transformer {
public:
    explicit Model(const std::filesystem::path& dir);
    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override { return catalog_; }
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    torch::Tensor final_norm(const torch::Tensor& x) const;
    Config config_;
    models::HookCatalog catalog_;
    models::WeightStore weights_;
    torch::Tensor embed_, final_w_, final_b_;  // embed_tokens in the file's dtype; final_layernorm [d]
    torch::Tensor head_w_, head_b_;            // lm_head [vocab, d] as stored (embed_ when tied), [vocab]
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::phi

// StableLM: LayerNorm (weight and bias) blocks, rotary embeddings (rotate-half) on the first
// partial_rotary_factor of each head, optional q/k/v biases (use_qkv_bias), optional per-head
// LayerNorm of q and k without bias (qk_layernorm), grouped-query attention, a SwiGLU MLP,
// attention and MLP in sequence or in parallel from one norm (use_parallel_residual), an untied
// unembedding.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::stablelm {

/// Shape from num_hidden_layers, num_attention_heads, num_key_value_heads, hidden_size,
/// intermediate_size, vocab_size (no position table: max_positions 0).
struct Config : models::Shape {
    int rotary_dims = 0;  ///< int(d_head * partial_rotary_factor)
    double layer_norm_eps = 1e-5, rope_theta = 10000.0;
    bool qkv_bias = false, qk_layernorm = false, parallel_residual = false, tied = false;
    std::string hidden_act;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor ln1_w, ln1_b;                  // input_layernorm [d]
    torch::Tensor wq, wk, wv, wo;                // [H dh, d], [KV dh, d] x 2, [d, H dh]
    torch::Tensor bq, bk, bv;                    // with use_qkv_bias, else undefined
    std::vector<torch::Tensor> q_norm, k_norm;   // with qk_layernorm: one [dh] weight per head / key-value head
    torch::Tensor ln2_w, ln2_b;                  // post_attention_layernorm [d]; undefined when parallel
    torch::Tensor gate, up, down;                // [mlp, d], [mlp, d], [d, mlp]
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
    torch::Tensor embed_, norm_w_, norm_b_;  // embed_tokens in the file's dtype; model.norm [d]
    torch::Tensor lm_head_;                  // [vocab, d] as stored (embed_ when tied)
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::stablelm

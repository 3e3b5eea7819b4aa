// OLMo 2: Llama's attention and SwiGLU MLP with the norms moved after them: no input norms, the
// attention output and the MLP output each RMS-normalised (post_attention_layernorm,
// post_feedforward_layernorm) before it is added to the stream, x + norm(attn(x)),
// x + norm(mlp(x)); and RMSNorms of the whole q and k projections (q_norm over heads * head_dim,
// k_norm over kv_heads * head_dim) before they are split into heads and rotated. Final RMSNorm,
// untied unembedding.
#pragma once

#include <filesystem>
#include <string>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::olmo2 {

/// Shape from num_hidden_layers, num_attention_heads, num_key_value_heads, hidden_size,
/// head_dim (hidden_size / heads when absent), intermediate_size, vocab_size.
struct Config : models::Shape {
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    std::string hidden_act;
    bool tied = false;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor wq, wk, wv, bq, bk, bv;   // [H*dh, d], [KV*dh, d] x2; biases where attention_bias
    torch::Tensor q_norm, k_norm;           // [H*dh], [KV*dh]
    torch::Tensor wo, bo;                   // [d, H*dh], [d] or undefined
    torch::Tensor post_attention_norm;      // [d]
    torch::Tensor gate, up, down;           // [mlp, d], [mlp, d], [d, mlp]
    torch::Tensor post_feedforward_norm;    // [d]
};

class Model : public models::Transformer {
public:
    explicit Model(const std::filesystem::path& dir);
    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override;
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    torch::Tensor final_norm(const torch::Tensor& x) const;
    Config config_;
    models::WeightStore weights_;
    torch::Tensor embed_, lm_head_;   // [vocab, d] in the file's dtype
    torch::Tensor norm_;              // [d]
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::olmo2

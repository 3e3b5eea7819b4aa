// Phi-3: Llama's block (pre-norm RMSNorm, rotary in the rotate-half convention, grouped-query
// attention, SwiGLU) with the projections fused: self_attn.qkv_proj holds q, then k, then v
// rows, mlp.gate_up_proj the gate rows, then the up rows (up * silu(gate)); a sliding window
// where config.json sets sliding_window (a key is seen while query - key < sliding_window);
// rotary on the first partial_rotary_factor share of each head. Untied head (tied where
// tie_word_embeddings says so). Scaled rotary embeddings (rope_scaling: longrope, su, ...) are
// refused.
#pragma once

#include <filesystem>
#include <string>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::phi3 {

/// Shape from num_hidden_layers, num_attention_heads, num_key_value_heads, hidden_size
/// (d_head = hidden_size / heads), intermediate_size, vocab_size.
struct Config : models::Shape {
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    int rotary_dims = 0;       ///< int(d_head * partial_rotary_factor)
    int sliding_window = 0;    ///< 0: none
    std::string hidden_act;
    bool tied = false;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor input_norm;          // [d]
    torch::Tensor wq, wk, wv;          // row blocks of qkv_proj [(H + 2 KV) dh, d]: views of the file
    torch::Tensor wo;                  // [d, H*dh]
    torch::Tensor post_norm;           // [d]
    torch::Tensor gate, up;            // row blocks of gate_up_proj [2 mlp, d]
    torch::Tensor down;                // [d, mlp]
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

}  // namespace laminar::phi3

// The Llama family (config model_type llama, mistral, qwen2): RMSNorm, rotary position
// embeddings in Hugging Face's rotate-half convention, grouped-query attention, SwiGLU MLP,
// q/k/v biases where the checkpoint has them (Qwen2), tied or untied embeddings.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::llama {

/// Shape from num_hidden_layers, num_attention_heads, num_key_value_heads, hidden_size,
/// head_dim, intermediate_size, vocab_size (no position table: max_positions 0).
struct Config : models::Shape {
    double rms_norm_eps = 1e-6, rope_theta = 10000.0;
    int sliding_window = 0;  ///< Mistral: keys further back than this are masked (0: none)
    bool tied = false;
    std::string hidden_act;
    static Config load(const std::filesystem::path& dir);
};

/// One block's weights (matrices as stored in the file). Attention and MLP are read separately:
/// a pass that stops after q and k of its last block never reads that block's MLP.
struct AttentionWeights {
    torch::Tensor input_norm;                 // [d]
    torch::Tensor wq, wk, wv;                 // [H dh, d], [KV dh, d], [KV dh, d]
    torch::Tensor bq, bk, bv;                 // biases (Qwen2) or undefined
    torch::Tensor wo;                         // [d, H dh]
};

struct MlpWeights {
    torch::Tensor post_norm;                  // [d]
    torch::Tensor gate, up, down;             // [mlp, d], [mlp, d], [d, mlp]
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
    torch::Tensor embed_, norm_;              // [vocab, d] in the file's dtype, [d]
    torch::Tensor lm_head_;                   // [vocab, d]: lm_head.weight, or embed_ when tied
    models::LazyBlocks<AttentionWeights> attention_;
    models::LazyBlocks<MlpWeights> mlp_;
    AttentionWeights load_attention(const models::WeightReader& r, int l) const;
    MlpWeights load_mlp(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::llama

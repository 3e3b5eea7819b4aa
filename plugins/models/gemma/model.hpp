// Gemma: Llama's block (pre-norm RMSNorm, rotary in the rotate-half convention, grouped- or
// multi-query attention) with RMSNorms that scale by (1 + w) (the stored weight is w, offset by
// one), embeddings multiplied by sqrt(hidden_size) rounded to the model's dtype, a GeGLU MLP
// (down(gelu_tanh(gate x) * up x)), a head_dim of its own (not hidden_size / heads) and the
// unembedding tied to the embedding.
//
// Gemma 2 adds: RMSNorms of the attention output (post_attention_layernorm) and of the MLP output
// (post_feedforward_layernorm) before each is added to the stream, the MLP's input norm
// pre_feedforward_layernorm, scores scaled by query_pre_attn_scalar^-1/2 and soft-capped
// (cap * tanh(s / cap)) before the mask, a sliding window on alternate layers (layer_types, or
// layers 0, 2, 4, ...), and soft-capped final logits.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::gemma {

/// Shape from num_hidden_layers, num_attention_heads, num_key_value_heads, hidden_size,
/// head_dim, intermediate_size, vocab_size.
struct Config : models::Shape {
    bool gemma2 = false;             ///< model_type gemma2
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    std::string hidden_activation;   ///< gelu_pytorch_tanh unless config.json names another
    double scale = 0;                ///< of the scores: head_dim^-1/2 (Gemma), query_pre_attn_scalar^-1/2 (Gemma 2)
    double attn_softcap = 0;         ///< attn_logit_softcapping (Gemma 2; 0: none)
    double final_softcap = 0;        ///< final_logit_softcapping (Gemma 2; 0: none)
    std::vector<int> window;         ///< per layer: sliding_window where the layer slides, else 0
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor input_norm;                 // 1 + w [d]
    torch::Tensor wq, wk, wv, bq, bk, bv;     // [H*dh, d], [KV*dh, d] x2; biases where attention_bias
    torch::Tensor wo, bo;                     // [d, H*dh], [d] or undefined
    torch::Tensor post_attention_norm;        // 1 + w [d]: Gemma's MLP input norm, Gemma 2's attention output norm
    torch::Tensor pre_feedforward_norm;       // 1 + w [d] (Gemma 2)
    torch::Tensor post_feedforward_norm;      // 1 + w [d] (Gemma 2)
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
    torch::Tensor head(const torch::Tensor& normalized) const;  // tied unembedding, soft-capped (Gemma 2)
    Config config_;
    models::WeightStore weights_;
    torch::Tensor embed_;       // [vocab, d] in the file's dtype (also the tied head)
    float normalizer_ = 1.0f;   // sqrt(hidden_size) rounded to embed_'s dtype
    torch::Tensor norm_;        // 1 + w [d]
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::gemma

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

struct Config {
    std::string model_type;
    int n_layer = 0, n_head = 0, n_kv_head = 0, d_model = 0, d_head = 0, d_mlp = 0, vocab_size = 0, max_positions = 0;
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
    ModelInfo info() const override;
    const models::HookCatalog& catalog() const override;
    int64_t max_positions() const override { return 0; }  // rotary: no learned table to run past
    int64_t vocab_size() const override { return config_.vocab_size; }
    void forward(const torch::Tensor& ids, const models::HookPlan& plan, const models::CaptureFn& capture,
                 const models::PassContext& context) const override;
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

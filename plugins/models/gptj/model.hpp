// GPT-J: one LayerNorm (ln_1) feeding attention and the MLP in parallel (x + attn(ln_1 x) +
// mlp(ln_1 x)), q/k/v/out projections without bias, rotary embeddings in the rotate-every-two
// convention on the first rotary_dim dimensions of each head, scores divided by sqrt(d_head),
// a GELU MLP (fc_in, fc_out) and an untied unembedding with a bias (lm_head).
#pragma once

#include <filesystem>
#include <string>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::gptj {

/// Shape from n_layer, n_head, n_embd, n_inner (4 n_embd when null), n_positions (the length of
/// Hugging Face's table of rotary angles), vocab_size.
struct Config : models::Shape {
    int rotary_dims = 0;  ///< rotary_dim (null: the whole head)
    double layer_norm_epsilon = 1e-5;
    std::string activation_function;
    bool tied = false;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor ln_w, ln_b;            // ln_1 [d]: the block's only norm
    torch::Tensor wq, wk, wv, wo;        // [d, d] each, no bias
    torch::Tensor fc_in_w, fc_in_b;      // [mlp, d], [mlp]
    torch::Tensor fc_out_w, fc_out_b;    // [d, mlp], [d]
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
    torch::Tensor wte_;                // [vocab, d] in the file's dtype
    torch::Tensor ln_f_w_, ln_f_b_;    // [d]
    torch::Tensor head_w_, head_b_;    // lm_head [vocab, d] as stored, [vocab]
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::gptj

// GPT-Neo: GPT-2's block (pre-LayerNorm, learned positions, GELU MLP, tied head) with separate
// q/k/v projections without bias, attention scores NOT divided by sqrt(d_head), and local
// attention (a window of window_size keys) on the layers attention_types names "local".
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::gpt_neo {

/// Shape from num_layers, num_heads, hidden_size, intermediate_size (4 hidden_size when null),
/// max_position_embeddings, vocab_size.
struct Config : models::Shape {
    double layer_norm_epsilon = 1e-5;
    std::string activation_function;
    std::vector<bool> local;  ///< per layer: attention_types says "local"
    int window_size = 256;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor ln_1_w, ln_1_b;       // [d]
    torch::Tensor wq, wk, wv;           // [d, d] each, no bias
    torch::Tensor wo, bo;               // out_proj [d, d], [d]
    torch::Tensor ln_2_w, ln_2_b;       // [d]
    torch::Tensor fc_w, fc_b;           // c_fc [mlp, d], [mlp] (nn.Linear, unlike GPT-2's Conv1D)
    torch::Tensor proj_w, proj_b;       // c_proj [d, mlp], [d]
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
    torch::Tensor wte_, wpe_;        // [vocab, d] in the file's dtype (also the tied head), [positions, d]
    torch::Tensor ln_f_w_, ln_f_b_;  // [d]
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::gpt_neo

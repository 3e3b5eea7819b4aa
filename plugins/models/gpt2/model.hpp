// GPT-2's forward pass in libtorch, reading top to bottom like the architecture, with every
// TransformerLens hook point named where it is computed.
#pragma once

#include <filesystem>
#include <vector>

#include "config.hpp"
#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::gpt2 {

struct BlockWeights {
    torch::Tensor ln_1_w, ln_1_b;      // [d]
    torch::Tensor c_attn_w, c_attn_b;  // [d, 3d], [3d]   (HF Conv1D: y = x W + b)
    torch::Tensor c_proj_w, c_proj_b;  // [d, d], [d]
    torch::Tensor ln_2_w, ln_2_b;      // [d]
    torch::Tensor fc_w, fc_b;          // [d, inner], [inner]
    torch::Tensor proj_w, proj_b;      // [inner, d], [d]
};

class Model : public models::Transformer {
public:
    /// Reads config.json and the safetensors weights of `dir` (memory-mapped).
    explicit Model(const std::filesystem::path& dir);

    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override;
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    torch::Tensor final_norm(const torch::Tensor& x) const;
    Config config_;
    models::WeightStore weights_;
    torch::Tensor wte_, wpe_;       // [vocab, d] in the file's dtype, [n_positions, d]
    torch::Tensor ln_f_w_, ln_f_b_;
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::gpt2

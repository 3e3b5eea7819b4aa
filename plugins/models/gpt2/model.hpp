// GPT-2's forward pass in libtorch, reading top to bottom like the architecture, with every
// TransformerLens hook point named where it is computed.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "config.hpp"
#include "hooks.hpp"
#include "safetensors.hpp"

namespace laminar::gpt2 {

struct BlockWeights {
    torch::Tensor ln_1_w, ln_1_b;      // [d]
    torch::Tensor c_attn_w, c_attn_b;  // [d, 3d], [3d]   (HF Conv1D: y = x W + b)
    torch::Tensor c_proj_w, c_proj_b;  // [d, d], [d]
    torch::Tensor ln_2_w, ln_2_b;      // [d]
    torch::Tensor fc_w, fc_b;          // [d, inner], [inner]
    torch::Tensor proj_w, proj_b;      // [inner, d], [d]
};

/// Called with a hook name and its value for the whole batch: [batch, pos, ...].
using CaptureFn = std::function<void(const std::string& hook, const torch::Tensor& value)>;

class Model {
public:
    /// Reads config.json and the safetensors weights of `dir` (memory-mapped).
    explicit Model(const std::filesystem::path& dir);

    const Config& config() const { return config_; }

    /// One batch of equal-length prompts, ids [batch, pos] (int64). Materialises only the hooks
    /// in `plan` and stops after plan.last_layer.
    void forward(const torch::Tensor& ids, const HookPlan& plan, const CaptureFn& capture) const;

private:
    Config config_;
    WeightStore weights_;
    torch::Tensor wte_, wpe_;  // [vocab, d], [n_positions, d]
    torch::Tensor ln_f_w_, ln_f_b_;
    std::vector<BlockWeights> blocks_;

    torch::Tensor activation(const torch::Tensor& x) const;
};

}  // namespace laminar::gpt2

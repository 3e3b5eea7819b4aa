// GPT-2's config.json, the fields the forward pass needs, checked.
#pragma once

#include <filesystem>
#include <string>

namespace laminar::gpt2 {

struct Config {
    int n_layer = 0;
    int n_head = 0;
    int n_embd = 0;
    int n_positions = 0;
    int vocab_size = 0;
    int n_inner = 0;                   ///< MLP width; 4 * n_embd when config.json says null
    double layer_norm_epsilon = 1e-5;
    std::string activation_function;   ///< gelu_new (tanh approximation), gelu, gelu_fast, relu, ...
    bool scale_attn_by_inverse_layer_idx = false;

    /// Throws std::runtime_error naming config.json and the field on a missing or bad value.
    static Config load(const std::filesystem::path& dir);
    int d_head() const { return n_embd / n_head; }
};

}  // namespace laminar::gpt2

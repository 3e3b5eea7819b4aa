// GPT-2's config.json, the fields the forward pass needs, checked.
#pragma once

#include <filesystem>
#include <string>

#include "transformer.hpp"

namespace laminar::gpt2 {

/// Shape from n_layer, n_head, n_embd, n_inner (4 n_embd when null), n_positions, vocab_size.
struct Config : models::Shape {
    double layer_norm_epsilon = 1e-5;
    std::string activation_function;   ///< gelu_new (tanh approximation), gelu, gelu_fast, relu, ...
    bool scale_attn_by_inverse_layer_idx = false;

    /// Throws std::runtime_error naming config.json and the field on a missing or bad value.
    static Config load(const std::filesystem::path& dir);
};

}  // namespace laminar::gpt2

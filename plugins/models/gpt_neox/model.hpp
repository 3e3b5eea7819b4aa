// GPT-NeoX (Pythia): fused query_key_value laid out per head, rotary embeddings on the first
// rotary_pct of each head, attention and MLP in parallel or in sequence
// (use_parallel_residual), an untied unembedding (embed_out).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::gpt_neox {

/// Shape from num_hidden_layers, num_attention_heads, hidden_size, intermediate_size,
/// vocab_size (no position table: max_positions 0).
struct Config : models::Shape {
    int rotary_dims = 0;
    double layer_norm_eps = 1e-5, rotary_base = 10000.0;
    bool parallel_residual = true;
    std::string hidden_act;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor ln1_w, ln1_b, ln2_w, ln2_b;  // [d]
    torch::Tensor qkv_w, qkv_b;                // [3d, d], [3d]: per head, q then k then v
    torch::Tensor dense_w, dense_b;            // [d, d], [d]
    torch::Tensor up_w, up_b, down_w, down_b;  // [mlp, d], [mlp], [d, mlp], [d]
};

class Model : public models::Transformer {
public:
    explicit Model(const std::filesystem::path& dir);
    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override { return catalog_; }
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    torch::Tensor final_norm(const torch::Tensor& x) const;
    Config config_;
    models::HookCatalog catalog_;
    models::WeightStore weights_;
    torch::Tensor embed_in_, final_w_, final_b_;  // embed_in in the file's dtype
    torch::Tensor embed_out_;                    // [vocab, d] as stored
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::gpt_neox

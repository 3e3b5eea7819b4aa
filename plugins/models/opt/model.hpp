// OPT (Zhang et al. 2022; Hugging Face's modeling_opt): a decoder with learned positions read
// two rows on (the table has max_position_embeddings + 2 rows: position t is row t + 2), q/k/v
// and output projections with biases (enable_bias), a ReLU MLP (fc1, fc2), and a head tied to
// the token embeddings. Most sizes put LayerNorm before each sublayer and a final LayerNorm
// after the last block; opt-350m puts it after each sublayer's sum (do_layer_norm_before false:
// no final LayerNorm) and embeds tokens in word_embed_proj_dim dimensions, projected in to the
// residual stream (project_in) and out again before the head (project_out).
//
// Hook points: hook_embed is the token embedding as added to the stream (after project_in);
// post-LayerNorm blocks have BERT's hook_resid_mid / hook_normalized_resid_mid /
// hook_resid_post / hook_normalized_resid_post; attn.hook_q is q_proj's output before OPT
// multiplies it by 1/sqrt(d_head); ln_final.hook_normalized exists where the final LayerNorm does.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "transformer.hpp"

namespace laminar::opt {

/// Shape from num_hidden_layers, num_attention_heads, hidden_size, ffn_dim,
/// max_position_embeddings, vocab_size.
struct Config : models::Shape {
    int word_embed_proj_dim = 0;      ///< the embeddings' width (hidden_size unless projected)
    bool layer_norm_before = true;    ///< do_layer_norm_before
    bool final_norm = true;           ///< do_layer_norm_before and not _remove_final_layer_norm
    bool bias = true;                 ///< enable_bias
    bool affine = true;               ///< layer_norm_elementwise_affine
    std::string activation_function;
    static Config load(const std::filesystem::path& dir);
};

struct BlockWeights {
    torch::Tensor wq, bq, wk, bk, wv, bv, wo, bo;   // [d, d], [d] (biases undefined without enable_bias)
    torch::Tensor attn_ln_w, attn_ln_b;             // self_attn_layer_norm [d] (ones / undefined without affine)
    torch::Tensor fc1_w, fc1_b, fc2_w, fc2_b;       // [ffn, d], [ffn], [d, ffn], [d]
    torch::Tensor mlp_ln_w, mlp_ln_b;               // final_layer_norm (the block's second norm)
};

class Model : public models::Transformer {
public:
    explicit Model(const std::filesystem::path& dir);
    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override { return catalog_; }
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    Config config_;
    models::HookCatalog catalog_;
    models::WeightStore weights_;
    torch::Tensor embed_, pos_;             // [vocab, e] in the file's dtype, [positions + 2, d]
    torch::Tensor project_in_, project_out_;  // [d, e], [e, d] as stored; undefined when e == d
    torch::Tensor ln_f_w_, ln_f_b_;         // the final LayerNorm [d] (undefined without it)
    torch::Tensor head_;                    // [vocab, e]: lm_head.weight where written, else embed_
    torch::Tensor ones_;                    // [d]: the LayerNorm weight without elementwise_affine
    models::LazyBlocks<BlockWeights> blocks_;
    BlockWeights load_block(const models::WeightReader& r, int l) const;
    torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const;
    torch::Tensor head(const torch::Tensor& x) const;  // project_out and the head
};

}  // namespace laminar::opt

// RoBERTa (Liu et al. 2019; Hugging Face's modeling_roberta): BERT's post-LayerNorm encoder
// (see plugins/models/bert) under the prefix roberta., with positions counted from
// pad_token_id + 1 as fairseq does (a prompt without padding reads rows 2 .. T + 1 of the table;
// a <pad> token reads row pad_token_id and does not advance the count), one token type, and the
// MLM head lm_head.* for logits: decoder(layer_norm(gelu(dense(x)))) + bias, the decoder tied to
// the word embeddings. Hook names as TransformerLens's HookedEncoder (bert's).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "post_ln_encoder.hpp"
#include "transformer.hpp"

namespace laminar::roberta {

/// Shape from num_hidden_layers, num_attention_heads, hidden_size, intermediate_size,
/// vocab_size; max_positions is max_position_embeddings - pad_token_id - 1 (512 for roberta-base).
struct Config : models::Shape {
    int type_vocab = 0;
    int pad_token_id = 1;
    int position_rows = 0;  ///< max_position_embeddings: the table's rows
    double layer_norm_eps = 1e-5;
    std::string hidden_act;
    static Config load(const std::filesystem::path& dir);
};

class Model : public models::Transformer {
public:
    explicit Model(const std::filesystem::path& dir);
    const models::Shape& shape() const override { return config_; }
    const models::HookCatalog& catalog() const override { return catalog_; }
    bool causal() const override { return false; }
    void forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const override;
    torch::Tensor unembed(const torch::Tensor& residual) const override;

private:
    Config config_;
    models::HookCatalog catalog_;
    models::WeightStore weights_;
    torch::Tensor word_, pos_, type_, emb_ln_w_, emb_ln_b_;  // word_ in the file's dtype
    models::MlmHead head_;                                   // lm_head.*; absent in RobertaModel
    models::LazyBlocks<models::PostLnBlock> blocks_;
    models::PostLnBlock load_block(const models::WeightReader& r, int l) const;
};

}  // namespace laminar::roberta

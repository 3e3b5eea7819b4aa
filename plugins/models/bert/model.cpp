#include "model.hpp"

#include "config_json.hpp"

namespace laminar::bert {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"bert"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = c.n_kv_head = j.positive({"num_attention_heads"});
    c.d_model = j.positive({"hidden_size"});
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.max_positions = j.positive({"max_position_embeddings"});
    c.type_vocab = j.positive_or({"type_vocab_size"}, 2);
    c.layer_norm_eps = j.positive_number_or({"layer_norm_eps"}, 1e-12);
    c.hidden_act = j.string_or("hidden_act", "gelu");
    models::check_activation(c.hidden_act, j.file());
    c.d_head = j.head_size(c.d_model, "hidden_size", c.n_head, "num_attention_heads");
    if (const auto p = j.string_or("position_embedding_type", "absolute"); p != "absolute")
        j.fail("position_embedding_type \"" + p + "\" is not supported (absolute)");
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"bert."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model, V = c.vocab_size;
    // embeddings.position_ids (a buffer in older files) and the pooler are never read.
    word_ = weights_.get_raw("embeddings.word_embeddings.weight", {V, d});
    pos_ = weights_.get("embeddings.position_embeddings.weight", {c.max_positions, d});
    type_ = weights_.get("embeddings.token_type_embeddings.weight", {c.type_vocab, d});
    emb_ln_w_ = weights_.get("embeddings.LayerNorm.weight", {d});
    emb_ln_b_ = weights_.get("embeddings.LayerNorm.bias", {d});
    catalog_ = {"bert", models::post_ln_block_hooks(), {"hook_embed", "hook_pos_embed", "hook_token_type_embed"}, {}};
    if (weights_.has("cls.predictions.transform.dense.weight")) {  // BertForMaskedLM (BertModel has no head)
        // The decoder is tied to the word embeddings; files may leave it out.
        head_ = {weights_.get_raw("cls.predictions.transform.dense.weight", {d, d}),
                 weights_.get("cls.predictions.transform.dense.bias", {d}),
                 weights_.get("cls.predictions.transform.LayerNorm.weight", {d}),
                 weights_.get("cls.predictions.transform.LayerNorm.bias", {d}),
                 weights_.has("cls.predictions.decoder.weight") ? weights_.get_raw("cls.predictions.decoder.weight", {V, d}) : word_,
                 weights_.has("cls.predictions.bias") ? weights_.get("cls.predictions.bias", {V})
                                                      : weights_.get("cls.predictions.decoder.bias", {V})};
        catalog_.after = {"logits"};
    }
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

models::PostLnBlock Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, m = config_.d_mlp;
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    return {r.matrix(p + "attention.self.query.weight", {d, d}), r.get(p + "attention.self.query.bias", {d}),
            r.matrix(p + "attention.self.key.weight", {d, d}), r.get(p + "attention.self.key.bias", {d}),
            r.matrix(p + "attention.self.value.weight", {d, d}), r.get(p + "attention.self.value.bias", {d}),
            r.matrix(p + "attention.output.dense.weight", {d, d}), r.get(p + "attention.output.dense.bias", {d}),
            r.get(p + "attention.output.LayerNorm.weight", {d}), r.get(p + "attention.output.LayerNorm.bias", {d}),
            r.matrix(p + "intermediate.dense.weight", {m, d}), r.get(p + "intermediate.dense.bias", {m}),
            r.matrix(p + "output.dense.weight", {d, m}), r.get(p + "output.dense.bias", {d}),
            r.get(p + "output.LayerNorm.weight", {d}), r.get(p + "output.LayerNorm.bias", {d})};
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext&) const {  // an encoder: no cached prefix (causal() is false)
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model;
    const double eps = c.layer_norm_eps;

    // Embeddings: word + position + token type 0 (one segment), then LayerNorm.
    const torch::Tensor word = models::embed(word_, ids);                          // [B, T, d]
    const torch::Tensor pos = pos_.slice(0, 0, T).unsqueeze(0);                   // [1, T, d]
    const torch::Tensor type = type_[0].view({1, 1, d});
    hooks("hook_embed", word);
    hooks("hook_pos_embed", pos.expand({B, T, d}));
    hooks("hook_token_type_embed", type.expand({B, T, d}));
    torch::Tensor x = models::layer_norm((word + pos + type).view({B * T, d}), emb_ln_w_, emb_ln_b_, eps);

    const models::EncoderShape shape{B, T, c.n_head, c.d_head, eps, c.hidden_act};
    for (int l = 0; l <= hooks.last_layer(); ++l)
        if (x = models::post_ln_block(x, blocks_[l], hooks.block(l), shape); !x.defined()) return;

    if (head_.present() && hooks.want("logits")) hooks("logits", unembed(x).view({B, T, -1}));
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const {
    // The MLM head: dense, activation, LayerNorm, tied decoder + bias, on the stream as each
    // block passes it on (after its output LayerNorm).
    return head_(residual, config_.hidden_act, config_.layer_norm_eps);
}

}  // namespace laminar::bert

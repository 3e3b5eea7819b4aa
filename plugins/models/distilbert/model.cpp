#include "model.hpp"

#include "config_json.hpp"

namespace laminar::distilbert {

namespace {
constexpr double kEps = 1e-12;  // every DistilBERT LayerNorm (not a config field)
}

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"distilbert"});
    c.n_layer = j.positive({"n_layers", "num_hidden_layers"});
    c.n_head = c.n_kv_head = j.positive({"n_heads", "num_attention_heads"});
    c.d_model = j.positive({"dim", "hidden_size"});
    c.d_mlp = j.positive({"hidden_dim"});
    c.vocab_size = j.positive({"vocab_size"});
    c.max_positions = j.positive({"max_position_embeddings"});
    c.activation = j.string_or("activation", "gelu");
    models::check_activation(c.activation, j.file());
    c.d_head = j.head_size(c.d_model, "dim", c.n_head, "n_heads");
    if (j.flag_or("sinusoidal_pos_embds", false))
        j.fail("sinusoidal_pos_embds is true: only learned position embeddings are supported");
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"distilbert."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model, V = c.vocab_size;
    // embeddings.position_ids (a buffer in some files) is never read.
    word_ = weights_.get_raw("embeddings.word_embeddings.weight", {V, d});
    pos_ = weights_.get("embeddings.position_embeddings.weight", {c.max_positions, d});
    emb_ln_w_ = weights_.get("embeddings.LayerNorm.weight", {d});
    emb_ln_b_ = weights_.get("embeddings.LayerNorm.bias", {d});
    catalog_ = {"distilbert", models::post_ln_block_hooks(), {"hook_embed", "hook_pos_embed"}, {}};
    if (weights_.has("vocab_transform.weight")) {  // DistilBertForMaskedLM (DistilBertModel has no head)
        // vocab_projector.weight is tied to the word embeddings; files may leave it out.
        head_ = {weights_.get_raw("vocab_transform.weight", {d, d}), weights_.get("vocab_transform.bias", {d}),
                 weights_.get("vocab_layer_norm.weight", {d}), weights_.get("vocab_layer_norm.bias", {d}),
                 weights_.has("vocab_projector.weight") ? weights_.get_raw("vocab_projector.weight", {V, d}) : word_,
                 weights_.get("vocab_projector.bias", {V})};
        catalog_.after = {"logits"};
    }
    blocks_.check((dir / "config.json").string() + ": n_layers");
}

models::PostLnBlock Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, m = config_.d_mlp;
    const std::string p = "transformer.layer." + std::to_string(l) + ".", a = p + "attention.";
    return {r.matrix(a + "q_lin.weight", {d, d}), r.get(a + "q_lin.bias", {d}),
            r.matrix(a + "k_lin.weight", {d, d}), r.get(a + "k_lin.bias", {d}),
            r.matrix(a + "v_lin.weight", {d, d}), r.get(a + "v_lin.bias", {d}),
            r.matrix(a + "out_lin.weight", {d, d}), r.get(a + "out_lin.bias", {d}),
            r.get(p + "sa_layer_norm.weight", {d}), r.get(p + "sa_layer_norm.bias", {d}),
            r.matrix(p + "ffn.lin1.weight", {m, d}), r.get(p + "ffn.lin1.bias", {m}),
            r.matrix(p + "ffn.lin2.weight", {d, m}), r.get(p + "ffn.lin2.bias", {d}),
            r.get(p + "output_layer_norm.weight", {d}), r.get(p + "output_layer_norm.bias", {d})};
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext&) const {  // an encoder: no cached prefix (causal() is false)
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model;

    // Embeddings: word + position (no token types), then LayerNorm.
    const torch::Tensor word = models::embed(word_, ids);                          // [B, T, d]
    const torch::Tensor pos = pos_.slice(0, 0, T).unsqueeze(0);                   // [1, T, d]
    hooks("hook_embed", word);
    hooks("hook_pos_embed", pos.expand({B, T, d}));
    torch::Tensor x = models::layer_norm((word + pos).view({B * T, d}), emb_ln_w_, emb_ln_b_, kEps);

    // DistilBERT divides q by sqrt(d_head) before the product; the block scales the scores instead.
    const models::EncoderShape shape{B, T, c.n_head, c.d_head, kEps, c.activation};
    for (int l = 0; l <= hooks.last_layer(); ++l)
        if (x = models::post_ln_block(x, blocks_[l], hooks.block(l), shape); !x.defined()) return;

    if (head_.present() && hooks.want("logits")) hooks("logits", unembed(x).view({B, T, -1}));
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const {
    // The MLM head: vocab_transform, the config's activation, vocab_layer_norm, vocab_projector,
    // on the stream as each block passes it on (after its output LayerNorm).
    return head_(residual, config_.activation, kEps);
}

}  // namespace laminar::distilbert

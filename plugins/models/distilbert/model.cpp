#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::distilbert {

namespace {
constexpr double kEps = 1e-12;  // every DistilBERT LayerNorm (not a config field)
}

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = "distilbert";
    c.n_layer = j.positive({"n_layers", "num_hidden_layers"});
    c.n_head = c.n_kv_head = j.positive({"n_heads", "num_attention_heads"});
    c.d_model = j.positive({"dim", "hidden_size"});
    c.d_mlp = j.positive({"hidden_dim"});
    c.vocab_size = j.positive({"vocab_size"});
    c.max_positions = j.positive({"max_position_embeddings"});
    c.activation = j.string_or("activation", "gelu");
    models::check_activation(c.activation, j.file());
    if (c.d_model % c.n_head != 0)
        j.fail("dim (" + std::to_string(c.d_model) + ") is not a multiple of n_heads (" + std::to_string(c.n_head) + ")");
    c.d_head = c.d_model / c.n_head;
    if (j.flag_or("sinusoidal_pos_embds", false))
        j.fail("sinusoidal_pos_embds is true: only learned position embeddings are supported");
    if (const auto type = j.string_or("model_type", "distilbert"); type != "distilbert")
        j.fail("model_type is \"" + type + "\", not \"distilbert\"");
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
    catalog_ = {"distilbert",
                {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_pattern", "hook_attn_out",
                 "hook_resid_mid", "hook_normalized_resid_mid", "hook_mlp_out", "hook_resid_post", "hook_normalized_resid_post"},
                {"hook_embed", "hook_pos_embed"},
                {}};
    if (weights_.has("vocab_transform.weight")) {  // DistilBertForMaskedLM (DistilBertModel has no head)
        head_w_ = weights_.get_raw("vocab_transform.weight", {d, d});
        head_b_ = weights_.get("vocab_transform.bias", {d});
        head_ln_w_ = weights_.get("vocab_layer_norm.weight", {d});
        head_ln_b_ = weights_.get("vocab_layer_norm.bias", {d});
        // vocab_projector.weight is tied to the word embeddings; files may leave it out.
        projector_ = weights_.has("vocab_projector.weight") ? weights_.get_raw("vocab_projector.weight", {V, d}) : word_;
        projector_b_ = weights_.get("vocab_projector.bias", {V});
        catalog_.after = {"logits"};
    }
    blocks_.check((dir / "config.json").string() + ": n_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
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
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, dh = c.d_head;

    // Embeddings: word + position (no token types), then LayerNorm.
    const torch::Tensor word = models::embed(word_, ids);                          // [B, T, d]
    const torch::Tensor pos = pos_.slice(0, 0, T).unsqueeze(0);                   // [1, T, d]
    hooks("hook_embed", word);
    hooks("hook_pos_embed", pos.expand({B, T, d}));
    torch::Tensor x = models::layer_norm((word + pos).view({B * T, d}), emb_ln_w_, emb_ln_b_, kEps);

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        // Bidirectional attention over the whole prompt (DistilBERT divides q by sqrt(d_head)
        // before the product; here the scores are scaled).
        const torch::Tensor q = models::linear(x, w.wq, w.bq).view({B, T, H, dh});
        const torch::Tensor k = models::linear(x, w.wk, w.bk).view({B, T, H, dh});
        const torch::Tensor v = models::linear(x, w.wv, w.bv).view({B, T, H, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        if (hook.done_after("attn.hook_v")) return;
        const auto [z, pattern] = models::attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(dh)), false);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.wo, w.bo);
        hook("hook_attn_out", attn_out.view({B, T, d}));

        // Post-LayerNorm: each sublayer's sum is normalised before the next reads it.
        const torch::Tensor mid = x + attn_out;
        hook("hook_resid_mid", mid.view({B, T, d}));
        const torch::Tensor mid_normalized = models::layer_norm(mid, w.sa_ln_w, w.sa_ln_b, kEps);
        hook("hook_normalized_resid_mid", mid_normalized.view({B, T, d}));
        if (hook.done_after("hook_normalized_resid_mid")) return;
        const torch::Tensor mlp_out =
            models::linear(models::activation(models::linear(mid_normalized, w.lin1_w, w.lin1_b), c.activation), w.lin2_w, w.lin2_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        const torch::Tensor post = mid_normalized + mlp_out;
        hook("hook_resid_post", post.view({B, T, d}));
        x = models::layer_norm(post, w.out_ln_w, w.out_ln_b, kEps);
        hook("hook_normalized_resid_post", x.view({B, T, d}));
    }

    if (!catalog_.after.empty() && hooks.want("logits")) hooks("logits", unembed(x).view({B, T, -1}));
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const {
    // The MLM head: vocab_transform, the config's activation, vocab_layer_norm, vocab_projector,
    // on the stream as each block passes it on (after its output LayerNorm).
    const torch::Tensor t =
        models::layer_norm(models::activation(models::linear(residual, head_w_, head_b_), config_.activation), head_ln_w_, head_ln_b_, kEps);
    return models::linear(t, projector_, projector_b_);
}

}  // namespace laminar::distilbert

#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::olmo2 {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"olmo2"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = j.positive({"num_attention_heads"});
    c.n_kv_head = j.positive_or({"num_key_value_heads"}, c.n_head);
    c.d_model = j.positive({"hidden_size"});
    c.d_head = j.head_dim_or_split(c.d_model, c.n_head);
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.rms_norm_eps = j.positive_number_or({"rms_norm_eps"}, 1e-5);
    c.hidden_act = j.string_or("hidden_act", "silu");
    c.tied = j.flag_or("tie_word_embeddings", false);
    models::check_activation(c.hidden_act, j.file());
    j.check_kv_heads(c.n_head, c.n_kv_head);
    j.rotary_dims(1.0, nullptr, c.d_head);
    c.rope_theta = j.rope_theta(10000.0);
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"model."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    embed_ = weights_.get_raw("embed_tokens.weight", {c.vocab_size, c.d_model});
    norm_ = weights_.get("norm.weight", {c.d_model});
    lm_head_ = !c.tied || weights_.has("lm_head.weight") ? weights_.get_raw("lm_head.weight", {c.vocab_size, c.d_model}) : embed_;
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const Config& c = config_;
    const int64_t d = c.d_model, m = c.d_mlp, q = c.n_head * c.d_head, kv = c.n_kv_head * c.d_head;
    const std::string p = "layers." + std::to_string(l) + ".", a = p + "self_attn.";
    return {r.matrix(a + "q_proj.weight", {q, d}), r.matrix(a + "k_proj.weight", {kv, d}), r.matrix(a + "v_proj.weight", {kv, d}),
            r.get_if(a + "q_proj.bias", {q}), r.get_if(a + "k_proj.bias", {kv}), r.get_if(a + "v_proj.bias", {kv}),
            r.get(a + "q_norm.weight", {q}), r.get(a + "k_norm.weight", {kv}),
            r.matrix(a + "o_proj.weight", {d, q}), r.get_if(a + "o_proj.bias", {d}),
            r.get(p + "post_attention_layernorm.weight", {d}),
            r.matrix(p + "mlp.gate_proj.weight", {m, d}), r.matrix(p + "mlp.up_proj.weight", {m, d}),
            r.matrix(p + "mlp.down_proj.weight", {d, m}), r.get(p + "post_feedforward_layernorm.weight", {d})};
}

const models::HookCatalog& Model::catalog() const {
    static const models::HookCatalog hooks{
        "olmo2",
        {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_q_normalized", "attn.hook_k_normalized",
         "attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_pattern", "hook_attn_out", "hook_resid_mid", "hook_mlp_out",
         "hook_resid_post"},
        {"hook_embed"},
        {"ln_final.hook_normalized", "logits"}};
    return hooks;
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, KV = c.n_kv_head, dh = c.d_head;
    const double eps = c.rms_norm_eps;

    const torch::Tensor tok = models::embed(embed_, ids);                          // [B, T, d]
    hooks("hook_embed", tok);
    torch::Tensor x = tok.reshape({B * T, d});                                     // residual stream

    const models::Rotary rotary(T, dh, c.rope_theta, context.offset());          // positions after a cached prefix

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        // Attention reads the stream itself (no input norm); q and k are normalised over all
        // their heads at once, then split and rotated.
        const torch::Tensor q = models::linear(x, w.wq, w.bq);                          // [B*T, H*dh]
        const torch::Tensor k = models::linear(x, w.wk, w.bk);                          // [B*T, KV*dh]
        const torch::Tensor v = models::linear(x, w.wv, w.bv).view({B, T, KV, dh});
        hook("attn.hook_q", q.view({B, T, H, dh}));
        hook("attn.hook_k", k.view({B, T, KV, dh}));
        hook("attn.hook_v", v);
        const torch::Tensor nq = models::rms_norm(q, w.q_norm, eps).view({B, T, H, dh});
        const torch::Tensor nk = models::rms_norm(k, w.k_norm, eps).view({B, T, KV, dh});
        hook("attn.hook_q_normalized", nq);
        hook("attn.hook_k_normalized", nk);
        const torch::Tensor rq = rotary.apply(nq), rk = rotary.apply(nk);
        hook("attn.hook_rot_q", rq);
        hook("attn.hook_rot_k", rk);
        const auto [keys, values] = context.keys_values(l, rk, v);                    // with a cached prefix's
        if (hook.done_after("attn.hook_rot_k")) return;

        const auto [z, pattern] = models::attention(rq, keys, values, 1.0 / std::sqrt(static_cast<double>(dh)), true);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::rms_norm(models::linear(z, w.wo, w.bo), w.post_attention_norm, eps);
        hook("hook_attn_out", attn_out.view({B, T, d}));
        x = x + attn_out;
        hook("hook_resid_mid", x.view({B, T, d}));
        if (hook.done_after("hook_resid_mid")) return;

        // SwiGLU on the stream itself, normalised after: norm(down(act(gate(x)) * up(x))).
        const torch::Tensor gated = models::activation(models::linear(x, w.gate, {}), c.hidden_act).mul_(models::linear(x, w.up, {}));
        const torch::Tensor mlp_out = models::rms_norm(models::linear(gated, w.down, {}), w.post_feedforward_norm, eps);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = x + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, lm_head_, {}).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::rms_norm(x, norm_, config_.rms_norm_eps); }

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return models::linear(final_norm(residual), lm_head_, {}); }

}  // namespace laminar::olmo2
